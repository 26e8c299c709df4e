// Options: everything Broker::Open takes. Every field states its default.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "broker/clock.h"
#include "broker/types.h"

namespace broker {

enum class Durability {
  // A publish is acknowledged only after its write is fsynced. Concurrent publishes share one
  // fsync (group commit). Survives process and machine crashes.
  kSync,
  // A publish is acknowledged once its write has reached the OS (page cache). Survives a process
  // crash; a machine crash may lose the last moments.
  kAsync,
};

struct Limits {
  // Largest message accepted (key + payload + header names and values). Default 1 MiB.
  size_t max_message_bytes = 1 << 20;
  // Most headers on one message. Default 64.
  size_t max_headers = 64;
  // Largest total of header names and values on one message. Default 64 KiB.
  size_t max_header_bytes = 64 << 10;
  // Most messages in one batch publish. Default 10,000.
  size_t max_batch_messages = 10000;
  // Longest idempotency key. Default 256 bytes.
  size_t max_idempotency_key_bytes = 256;
};

struct Options {
  // Directory holding the RocksDB instance. Created if missing. Default "./broker-data".
  // Only one process may open a directory at a time.
  std::string data_dir = "./broker-data";

  // Default durability of publishes; a publish may override it. Default kSync.
  Durability durability = Durability::kSync;

  // Keep everything in memory (RocksDB's in-memory Env): for tests. data_dir is then only a name.
  // Default false.
  bool in_memory = false;

  // Source of time for timestamps, retention and the dedupe window. Default: Clock::System().
  std::shared_ptr<Clock> clock;

  Limits limits;

  // Create a topic on first publish, with default_topic_config. Default true.
  bool auto_create_topics = true;
  // Configuration of auto-created topics. Default: 1 partition, no retention limits.
  TopicConfig default_topic_config;
  // Configuration of the dead-letter topics `<topic>.<group>.dlq` the broker creates. partitions
  // must be 1 (a dead letter's offset alone names it). Default: limits retention with no limits,
  // so dead letters stay until purged or redriven (the next retention pass then deletes them,
  // whatever this says) or the topic is deleted, or until a retention_age set here deletes them
  // (a deleted one no longer lists, peeks or redrives). Read when the broker
  // creates a dead-letter topic; existing ones keep the configuration they were created with.
  TopicConfig dead_letter_topic_config;
  // Configuration of a topic auto-created by subscribing a group with GroupConfig::serves_requests
  // (client::Client::Serve): request topics. Default: interest retention without a cap, so
  // answered (and expired) requests are deleted rather than kept forever.
  TopicConfig request_topic_config{.retention = RetentionPolicy::kInterest};

  // Producer dedupe: how long after its first sight an idempotency key is remembered.
  // Default 2 minutes.
  std::chrono::milliseconds dedupe_window = std::chrono::minutes(2);

  // Run retention and dedupe-window cleanup on a background thread every retention_interval
  // (real time; what is deleted is decided by `clock`). Tests switch this off and call
  // Broker::RunRetention() themselves. Default true, every 10 s. A publish refused for an
  // interest topic's max_bytes also starts a pass early (at most one per 100 ms), so the topic
  // accepts publishes again soon after its groups catch up.
  bool background_work = true;
  std::chrono::milliseconds retention_interval = std::chrono::seconds(10);

  // Acks, nacks and extends are answered at once and written in batches: a write is queued when
  // this many are pending, or by the timer thread ack_flush_interval after the first one. That
  // write then waits behind the commits already queued (fsynced publishes: milliseconds to tens
  // of milliseconds under load), so an ack reaches disk some time after it was answered, not
  // within a fixed bound: an outside kill -9 checker saw acks answered up to 24 ms before the kill
  // come back (issue 15). The batched write is not fsynced by itself (the next synced write or
  // the OS does it), so a power loss may bring back more. A crash only ever redelivers an acked
  // message; it never loses one. Subscription::AckPersisted returns only once its ack is written
  // with the broker's durability. Lease grants are never batched like this: they are written
  // (with their attempt count) before the message is handed out. Defaults 1024 and 10 ms.
  size_t ack_flush_batch = 1024;
  std::chrono::milliseconds ack_flush_interval = std::chrono::milliseconds(10);

  // Memory RocksDB may hold (docs/operations.md, "Sizing"; BENCHMARKS.md, "Memory").
  //
  // Memtable size of the log column family; the others (group state, indexes, metadata, dedupe)
  // take min(write_buffer_bytes, 16 MiB). Each column family holds at most two memtables (one
  // filling, one flushing). Default 64 MiB.
  size_t write_buffer_bytes = 64 << 20;
  // Bound on the memtables of all column families together (RocksDB's db_write_buffer_size):
  // past it, RocksDB flushes a memtable early, before it is full. 0: no overall bound, only the
  // per-family sizes above. Default 0.
  size_t memtable_budget_bytes = 0;
  // Block cache: uncompressed blocks read from SST files, one LRU cache shared by every column
  // family, so this bounds them together. 0: no block cache (every read of an SST block goes to
  // the file system, i.e. the OS page cache). Default 16 MiB (what RocksDB's default of one
  // 8 MiB cache per table factory, two of them here, held before this was configurable).
  size_t block_cache_bytes = 16 << 20;
};

// Per-call publish options.
struct PublishOptions {
  // Overrides Options::durability for this publish. Default: the broker's.
  std::optional<Durability> durability;
  // Request-reply: fail with kNoResponders and append nothing unless a member of some consumer
  // group is subscribed to the topic, so a request nobody serves fails at once instead of timing
  // out. Checked when the publish is accepted, in the same call, not in a round trip of its own.
  bool require_subscribers = false;
  // With async durability (this publish's): if the broker's writer is idle (no commit running,
  // none queued), PublishAsync commits the publish on the calling thread and runs its callback
  // there before returning, instead of waking the writer thread. That saves a thread wake-up,
  // which on an idle machine is much of a request-reply's latency. The commit and its guarantees
  // are the same (offsets in order, dedupe, all or nothing). Set it only if the callback may run on
  // the calling thread, e.g. it takes no lock the caller holds. Ignored with sync durability (the
  // caller would wait for an fsync) and by remote transports. Default false.
  bool inline_commit = false;
  // Appends every message of this publish to this partition instead of choosing one per message
  // (key hash, or round-robin without a key): Kafka producers choose partitions themselves.
  // kInvalidArgument if the topic has no such partition; nothing is written. Honoured by the
  // engine and the in-process transport; the gRPC and NATS transports refuse it with
  // kInvalidArgument (their wire carries no partition). Default: none.
  std::optional<PartitionId> partition;
};

}  // namespace broker
