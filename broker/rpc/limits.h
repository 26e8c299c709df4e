// The caps brokerd applies at its gRPC boundary to what one client may ask of it, beyond the
// engine's own limits (broker::Limits). Each is listed with its default in docs/operations.md,
// "Limits"; a request over a cap gets INVALID_ARGUMENT naming it, unless the cap is documented as
// a truncation or coercion (below).
//
// Thread safety: constants and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/status.h"
#include "broker/types.h"

namespace broker::rpc {

// Subscribe Start.max_in_flight: most messages leased to one member at once. More is refused
// (INVALID_ARGUMENT): each lease is held in server memory until it is settled or expires.
inline constexpr uint32_t kMaxInFlightPerMember = 4096;
// A stream's outstanding credit (messages it may still be sent) is clamped to this: more could
// never be leased at once anyway, and clients ask for what their Poll wants.
inline constexpr uint64_t kMaxCreditPerMember = kMaxInFlightPerMember;
// Most deliveries in one Subscribe DeliveryBatch frame: one lease round (Poll) takes at most this
// many, and frames merged while a write is in flight (rpc/merge_answers.h) stay within it.
inline constexpr int kMaxDeliveriesPerFrame = 256;
// A nack's error text and a reject's reason are bounded by the engine (kMaxSettleTextBytes in
// broker/delivery.h), for every transport.
// ListDeadLetters: page size when the request gives none, and the most one page holds (a larger
// `limit` is coerced down to it, as Google AIP-158 says; next_page_token fetches the rest).
inline constexpr uint32_t kDefaultDeadLettersPage = 100;
inline constexpr uint32_t kMaxDeadLettersPage = 1000;

// The page size a ListDeadLetters `limit` asks for: the default for 0, at most the maximum.
uint32_t DeadLettersPageSize(uint32_t limit);
// ListDeadLetters page tokens: opaque to clients (AIP-158); the dead-letter-topic offset the page
// starts at. Decoding "" gives offset 0 (the first page); a token this did not make is
// kInvalidArgument.
std::string EncodeDeadLettersPageToken(Offset from);
Result<Offset> DecodeDeadLettersPageToken(std::string_view token);

}  // namespace broker::rpc
