// Broker: the embeddable engine. Open a data directory, create topics, publish, read.
//
//   auto broker = broker::Broker::Open({.data_dir = "/var/lib/myservice/broker"});
//   if (!broker.ok()) { ... broker.status().ToString() ... }
//   auto pos = (*broker)->Publish("orders", {.key = "customer-42", .payload = "..."});
//
// Thread safety: every method may be called from any thread concurrently. Callbacks passed to
// PublishAsync run on the broker's writer thread (or, with PublishOptions::inline_commit, possibly
// on the calling thread before PublishAsync returns): they must be quick and must not call back
// into the broker synchronously (hand off to another thread instead).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/delivery.h"
#include "broker/options.h"
#include "broker/status.h"
#include "broker/types.h"

namespace broker {

// Latency of the write path's fsynced commits: one sample per group commit whose RocksDB write was
// synced, measured around that write (write + fsync of the WAL), as histogram buckets. In memory
// only: it starts empty when the broker opens.
struct SyncLatencyHistogram {
  // Inclusive upper bounds of the buckets in microseconds. counts[i] holds samples in
  // (kBoundsMicros[i-1], kBoundsMicros[i]]; the last count holds samples above every bound.
  static constexpr std::array<uint64_t, 14> kBoundsMicros = {
      50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};
  std::array<uint64_t, kBoundsMicros.size() + 1> counts{};  // per bucket, not cumulative
  uint64_t sum_micros = 0;                                   // sum of all samples
};

// Counters of the write path, for benchmarks and operators.
struct WriteStats {
  uint64_t commits = 0;          // RocksDB writes issued by the writer
  uint64_t synced_commits = 0;   // of which fsynced
  uint64_t messages = 0;         // messages appended (duplicates excluded)
  uint64_t synced_messages = 0;  // messages covered by an fsync
  uint64_t publish_calls = 0;    // publish requests committed (a batch is one; internal writes
                                 // such as group state and dead letters are not counted)
  uint64_t duplicates = 0;       // messages answered from the dedupe window
  SyncLatencyHistogram sync_latency;  // of the synced commits
};

// An in-memory reply address for request-reply (never persisted). Closing it (destruction) makes
// later replies to it fail with kNotFound.
class Inbox {
 public:
  virtual ~Inbox() = default;
  virtual const std::string& address() const = 0;
};

class Broker {
 public:
  // Opens (or creates) the broker in options.data_dir and recovers every partition's offsets.
  // Fails with kFailedPrecondition if another process has the directory open, kDataLoss if the
  // stored data is corrupt, kInvalidArgument for bad options.
  static Result<std::unique_ptr<Broker>> Open(Options options);

  // Closing waits for queued publishes to be committed (their callbacks run), then closes the DB.
  virtual ~Broker() = default;

  // ---- Topics -------------------------------------------------------------------------------
  // kInvalidArgument: bad name or config. kAlreadyExists: a topic of that name exists.
  virtual Status CreateTopic(std::string_view name, const TopicConfig& config) = 0;
  // Sorted by name.
  virtual Result<std::vector<TopicInfo>> ListTopics() = 0;
  // kNotFound if there is no such topic.
  virtual Result<TopicInfo> DescribeTopic(std::string_view name) = 0;
  // Deletes the topic and all its records. Its name may be reused; its offsets start again at 0
  // under a new internal id. kNotFound if there is no such topic.
  virtual Status DeleteTopic(std::string_view name) = 0;

  // ---- Publishing ---------------------------------------------------------------------------
  // Appends one message. Blocks until it is durable per the durability in effect.
  // A publish refused for a write error (kUnavailable, kResourceExhausted) may still have reached
  // the log: when the write got there but its fsync failed, the message is there after the next
  // restart (unless power is lost first) and is delivered. A producer that retries such a publish
  // sets an idempotency key, so that a retry after that restart is answered as its duplicate
  // instead of storing the message twice.
  virtual Result<PublishResult> Publish(std::string_view topic, Message message,
                                        const PublishOptions& options = {}) = 0;
  // Appends a batch in one atomic write: all or none. Results are in the order of `messages`.
  virtual Result<std::vector<PublishResult>> PublishBatch(std::string_view topic,
                                                          std::vector<Message> messages,
                                                          const PublishOptions& options = {}) = 0;
  // Non-blocking form of PublishBatch. `done` runs exactly once, on the writer thread (or on the
  // calling thread if the request is rejected before it is queued).
  using PublishCallback = std::function<void(Result<std::vector<PublishResult>>)>;
  virtual void PublishAsync(std::string_view topic, std::vector<Message> messages,
                            const PublishOptions& options, PublishCallback done) = 0;

  // ---- Reading ------------------------------------------------------------------------------
  // Reads committed records of one partition from `from` on. kNotFound for an unknown topic,
  // kInvalidArgument for a partition out of range.
  virtual Result<ReadResult> Read(std::string_view topic, PartitionId partition, Offset from,
                                  const ReadLimits& limits = {}) = 0;
  // Blocks until the partition's end offset is greater than `offset` (a record at `offset` or later
  // exists) or `timeout` passes, without polling. Returns the end offset at wake-up (which equals
  // `offset` on timeout).
  virtual Result<Offset> WaitForRecords(std::string_view topic, PartitionId partition,
                                        Offset offset, std::chrono::milliseconds timeout) = 0;

  // ---- Consumer groups ----------------------------------------------------------------------
  // Group names match [A-Za-z0-9._-]{1,100} and the dead-letter topic "<topic>.<group>.dlq" must
  // be a valid topic name. kAlreadyExists if the group exists; kNotFound if the topic does not.
  virtual Status CreateGroup(std::string_view topic, std::string_view group,
                             const GroupConfig& config) = 0;
  // Groups of `topic`, or of every topic when it is empty; with lag.
  virtual Result<std::vector<GroupInfo>> ListGroups(std::string_view topic) = 0;
  virtual Result<GroupInfo> DescribeGroup(std::string_view topic, std::string_view group) = 0;
  // Deletes the group's state (not its dead-letter topic). kFailedPrecondition while members are
  // subscribed.
  virtual Status DeleteGroup(std::string_view topic, std::string_view group) = 0;
  // Joins `group` on `topic` (creating the group with options.group if it does not exist, and the
  // topic if auto-create is on). kAlreadyExists if a member of that name is subscribed.
  virtual Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic,
                                                          std::string_view group,
                                                          const SubscribeOptions& options) = 0;
  // Moves the group's position in every partition, or in position.partition alone (Kafka's "reset
  // offsets"): messages before it count as settled, messages from it on are delivered again.
  // Unsettled state of the moved partitions is dropped; dead letters stay. kFailedPrecondition
  // while members are subscribed; kInvalidArgument for a partition the topic does not have.
  virtual Result<GroupInfo> ResetGroup(std::string_view topic, std::string_view group,
                                       const ResetPosition& position) = 0;
  // The state of one message in every group of its topic.
  virtual Result<std::vector<MessageGroupState>> GetMessageState(std::string_view topic,
                                                                 PartitionId partition,
                                                                 Offset offset) = 0;

  // ---- Dead letters -------------------------------------------------------------------------
  // Dead letters of a group not yet redriven or purged, oldest first, at most `limit`.
  virtual Result<std::vector<DeadLetter>> ListDeadLetters(std::string_view topic,
                                                          std::string_view group,
                                                          size_t limit) = 0;
  // The same, from the dead letter at offset `from` of the dead-letter topic on: a page of a long
  // list, the next one starting after the last record's offset (DeadLetter::record.offset).
  virtual Result<std::vector<DeadLetter>> ListDeadLettersFrom(std::string_view topic,
                                                              std::string_view group, Offset from,
                                                              size_t limit) = 0;
  // Delivers matching dead letters again to this group only (other groups never see them), with
  // attempts reset to 0.
  virtual Result<RedriveResult> Redrive(std::string_view topic, std::string_view group,
                                        const RedriveOptions& options) = 0;
  // Forgets matching dead letters (the records stay in the DLQ topic until its retention).
  virtual Result<uint64_t> PurgeDeadLetters(std::string_view topic, std::string_view group,
                                            const DeadLetterFilter& filter) = 0;

  // ---- Request-reply ------------------------------------------------------------------------
  // Opens an inbox; `on_reply` runs on the replying thread for every reply sent to its address and
  // must not block.
  using ReplyHandler = std::function<void(Message reply)>;
  virtual Result<std::unique_ptr<Inbox>> OpenInbox(ReplyHandler on_reply) = 0;
  // kNotFound if the inbox is closed (the requester has gone).
  virtual Status SendReply(std::string_view inbox, Message reply) = 0;
  // True if at least one member is subscribed to a group of `topic` (someone would serve a request
  // published there). False for an unknown topic.
  virtual bool HasSubscribers(std::string_view topic) = 0;

  // ---- Maintenance --------------------------------------------------------------------------
  // Expires due leases, makes due delayed messages available, persists batched acks and waits for
  // dead-letter writes in progress, as the background thread does continuously. For tests with a
  // FakeClock and background_work off.
  virtual Status RunDeliveryTimers() = 0;
  // Applies retention and expires dedupe keys now, as the background thread does. Returns once
  // done. Records deleted are counted in the returned value. For interest topics it first
  // commits every group's pending acks (one write per group, not per message); if a group's
  // write fails, that topic keeps its records this time and the error is returned after the rest
  // of the pass. A dead-letter topic loses the batches below the lowest letter its group still
  // holds (letters purged or redriven go), taken the same way (docs/operations.md, "Retention").
  virtual Result<uint64_t> RunRetention() = 0;
  virtual WriteStats GetWriteStats() const = 0;
  // Waits for writes refused for a full disk to resume by themselves (RocksDB checks the free
  // space every 5 s) instead of retrying: Ok at once if writes are not stopped, Ok once they
  // resume, kResourceExhausted if the disk is still full after `timeout`, kUnavailable if another
  // write error stopped them (the next write retries and reports it).
  virtual Status WaitUntilDiskWritable(std::chrono::milliseconds timeout) = 0;
  // Writes a consistent copy of the broker's data to `dir`, a new directory that Broker::Open can
  // open like any data directory (a RocksDB checkpoint: the immutable SST files are hard-linked
  // when `dir` is on the data directory's filesystem, copied otherwise). Publishing and consuming
  // go on meanwhile. Acks still batched in memory (the last Options::ack_flush_interval) may be
  // missing from the copy: after a restore those messages are delivered again, never lost.
  // Returns the size of the copy in bytes. kInvalidArgument if `dir` is not an absolute path,
  // kAlreadyExists if it exists, kFailedPrecondition for an in-memory broker.
  virtual Result<uint64_t> Checkpoint(const std::string& dir) = 0;
};

}  // namespace broker
