// Helpers for the Kafka tests: request frames built with the codec's Writer, a synchronous call of
// RequestHandler, and a reader positioned after a response's size and correlation id.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <optional>
#include <string>

#include "kafka/handler.h"
#include "kafka/wire.h"

namespace broker::kafka::testing {

// A request frame without its size prefix: header v1 (v2 for flexible versions) and the body.
inline std::string RequestFrame(ApiKey key, int16_t version, int32_t correlation_id,
                                const std::function<void(Writer&)>& body) {
  Writer w;
  w.Int16(static_cast<int16_t>(key));
  w.Int16(version);
  w.Int32(correlation_id);
  w.NullableString(std::string("test-client"));
  if (IsFlexible(key, version)) w.EmptyTaggedFields();
  body(w);
  return w.Take();
}

// A Produce request of one partition's records (null: a null Records field).
inline std::string ProduceFrame(int16_t version, int16_t acks, const std::string& topic,
                                int32_t partition, std::optional<std::string_view> records) {
  return RequestFrame(ApiKey::kProduce, version, 5, [&](Writer& w) {
    w.NullableString(std::nullopt);  // transactional id
    w.Int16(acks);
    w.Int32(30000);
    w.Int32(1);
    w.String(topic);
    w.Int32(1);
    w.Int32(partition);
    w.NullableBytes(records);
  });
}

inline Reply Call(RequestHandler& handler, std::string frame) {
  std::promise<Reply> promise;
  handler.Handle(std::move(frame), [&promise](Reply r) { promise.set_value(std::move(r)); });
  return promise.get_future().get();
}

// The response body after the size prefix (checked) and the correlation id (returned).
struct Response {
  int32_t correlation_id = 0;
  std::string body;
};
inline Response Parse(const Reply& reply) {
  Response out;
  EXPECT_EQ(reply.kind, Reply::Kind::kRespond);
  Reader r(reply.frame);
  const int32_t size = r.Int32();
  EXPECT_EQ(static_cast<size_t>(size), reply.frame.size() - 4);
  out.correlation_id = r.Int32();
  out.body = std::string(r.Raw(r.remaining()));
  return out;
}

}  // namespace broker::kafka::testing
