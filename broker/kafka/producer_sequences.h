// ProducerSequences: idempotent producers (KIP-98 without transactions). InitProducerId hands out
// producer ids; each batch of such a producer carries (producer id, epoch, base sequence), and the
// sequence numbers per producer and partition must follow each other. The exactly-once part is
// the engine's producer dedupe: every record is published with the idempotency key
// kafka/<producer>/<epoch>/<topic>/<partition>/<sequence>, so a retried batch appends nothing and
// is answered with the offsets of its first append, and that survives restarts for the broker's
// dedupe window (Options::dedupe_window, default 2 min), exactly as a native publish's key does.
// What is kept here, in memory, is the next expected sequence per producer and partition, to
// answer OUT_OF_ORDER_SEQUENCE_NUMBER on a gap; after a restart a producer's next batch is
// accepted whatever its sequence (its retries are still caught by the dedupe keys).
//
// Thread safety: every method may be called from any thread (one mutex). Check must see a
// connection's batches in the order they were sent: the listener handles one connection's
// Produce requests one after another.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "broker/clock.h"
#include "kafka/errors.h"

namespace broker::kafka {

class ProducerSequences {
 public:
  explicit ProducerSequences(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {}

  // A new producer id (epoch 0): the clock's microseconds since the epoch, or one more than the
  // last id handed out, whichever is larger; unique across restarts while the clock does not go
  // back by more than the restart took.
  int64_t NewProducerId();

  // Whether a batch of `count` records starting at `base_sequence` may be appended: kNone for the
  // next expected sequence, for an unknown producer or partition, and for a sequence already seen
  // (a retry: the dedupe keys answer it); OUT_OF_ORDER_SEQUENCE_NUMBER if sequences were skipped;
  // INVALID_PRODUCER_EPOCH for an epoch older than one seen. Accepting advances the expected
  // sequence at once, so the next batch of a pipelining producer is checked against it.
  ErrorCode Check(int64_t producer_id, int16_t epoch, const std::string& topic, int32_t partition,
                  int32_t base_sequence, int32_t count);

  // The engine idempotency key of the record with `sequence`.
  static std::string DedupeKey(int64_t producer_id, int16_t epoch, const std::string& topic,
                               int32_t partition, int64_t sequence);

 private:
  struct State {
    int16_t epoch = 0;
    int64_t next_sequence = 0;
  };
  const std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  int64_t last_id_ = 0;                                                   // guarded by mu_
  std::map<std::tuple<int64_t, std::string, int32_t>, State> sequences_;  // guarded by mu_
};

}  // namespace broker::kafka
