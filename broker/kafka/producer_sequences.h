// ProducerSequences: idempotent producers (KIP-98 without transactions). InitProducerId hands out
// producer ids; each batch of such a producer carries (producer id, epoch, base sequence), and the
// sequence numbers per producer and partition must follow each other. The exactly-once part is
// the engine's producer dedupe: every record is published with the idempotency key
// kafka/<producer>/<epoch>/<topic>/<partition>/<sequence>, so a retried batch appends nothing and
// is answered with the offsets of its first append, and that survives restarts for the broker's
// dedupe window (Options::dedupe_window, default 2 min), exactly as a native publish's key does.
// What is kept here, in memory, is the next expected sequence per producer and partition, to
// answer OUT_OF_ORDER_SEQUENCE_NUMBER on a gap; after a restart a producer's next batch is
// accepted whatever its sequence (its retries are still caught by the dedupe keys). That state is
// bounded, as Kafka expires idle producers (producer.id.expiration.ms): a (producer, partition)
// idle for SequenceLimits::idle_timeout is dropped, and beyond SequenceLimits::max_tracked pairs
// the least recently used one is; such a producer is then treated as after a restart. So
// producer ids a client invents (never handed out by InitProducerId) cost bounded memory.
//
// Sequences are checked when a batch is accepted, not when its write completes: pipelined
// batches append in the order sent as long as their writes succeed. If a batch's write fails
// while later batches of the same producer and partition were already accepted, those are
// appended, and the failed batch's retry is accepted (its sequence is below the next expected)
// and appended after them, where Kafka would refuse the later batches with
// OUT_OF_ORDER_SEQUENCE_NUMBER (docs/kafka.md).
//
// Thread safety: every method may be called from any thread (one mutex). Check must see a
// connection's batches in the order they were sent: the listener handles one connection's
// Produce requests one after another.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "broker/clock.h"
#include "kafka/errors.h"

namespace broker::kafka {

struct SequenceLimits {
  // A (producer, partition) without a batch for this long is forgotten. Default 15 min, well past
  // the broker's dedupe window (2 min in brokerd), within which a retry matters.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(15);
  // Most (producer, partition) pairs tracked; the least recently used goes first. Default 100000
  // (about 10 MB).
  size_t max_tracked = 100000;
};

class ProducerSequences {
 public:
  ProducerSequences(std::shared_ptr<Clock> clock, SequenceLimits limits)
      : clock_(std::move(clock)), limits_(limits) {}

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

  // How many (producer, partition) pairs are tracked.
  size_t tracked();

  // The engine idempotency key of the record with `sequence`.
  static std::string DedupeKey(int64_t producer_id, int16_t epoch, const std::string& topic,
                               int32_t partition, int64_t sequence);

 private:
  struct State;
  using Key = std::tuple<int64_t, std::string, int32_t>;  // producer, topic, partition
  using Map = std::map<Key, State>;
  struct State {
    int16_t epoch = 0;
    int64_t next_sequence = 0;
    TimePoint last_used{};
    std::list<Map::iterator>::iterator lru;  // its place in lru_
  };
  // Drops pairs idle too long, and the least recently used beyond max_tracked, except `keep`
  // (the pair in use, just moved to the back of lru_).
  void ExpireLocked(TimePoint now, Map::iterator keep);

  const std::shared_ptr<Clock> clock_;
  const SequenceLimits limits_;
  std::mutex mu_;
  int64_t last_id_ = 0;           // guarded by mu_
  Map sequences_;                 // guarded by mu_
  std::list<Map::iterator> lru_;  // guarded by mu_: least recently used first
};

}  // namespace broker::kafka
