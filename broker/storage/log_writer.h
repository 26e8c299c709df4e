// LogWriter: the single thread that changes the log. It owns offset assignment, topic creation and
// deletion, the dedupe window and retention, and it commits appends with group commit: every
// request queued while the previous RocksDB write (and its fsync) ran is committed in the next
// single write, so one fsync covers many publishes.
//
// A request may ask to be committed inline (AppendRequest::inline_if_idle): when no commit is
// running and nothing is queued, the calling thread commits it itself instead of waking the
// writer thread. On an idle machine that wake-up (a halted vCPU) costs about as much as the rest
// of a request-reply; under load the writer is busy or has a queue, so requests still go through
// it and share group commits.
//
// Thread safety: Append and RunExclusive may be called from any thread. Everything the writer
// owns (TopicRegistry mutations, PartitionState stores, TopicState::round_robin, next topic id) is
// touched only by the thread holding the commit turn (committing_): the writer thread, or a caller
// of Append committing its own request inline. The turn is taken and handed back under mu_, which
// orders one holder's writes before the next holder's reads. Completion callbacks run on the
// thread that committed: the writer thread, or (inline) the caller, before Append returns.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <rocksdb/write_batch.h>

#include "broker/broker.h"
#include "broker/clock.h"
#include "broker/options.h"
#include "broker/status.h"
#include "storage/append_notifier.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker::storage {

// Writes a caller adds to the same atomic RocksDB write as its append, given the positions its
// messages got. The delivery layer uses it to settle a message in the write that dead-letters it.
using ExtraWrites =
    std::function<void(rocksdb::WriteBatch& batch, const std::vector<PublishResult>& positions)>;

// A unit of work for the writer. With no messages (and no topic) it only carries `extra` writes:
// the delivery layer sends its group-state changes this way, so they are ordered with, and share
// fsyncs with, appends.
struct AppendRequest {
  std::string topic;
  // Optional: the topic as the caller found it in the registry. The writer then skips the lookup
  // by name (and the caller may leave `topic` empty, saving a string per publish) unless the topic
  // was deleted meanwhile, when it looks `resolved_topic->name` up again as if given by name.
  std::shared_ptr<TopicState> resolved_topic;
  std::vector<Message> messages;  // already checked by ValidateMessage against broker limits
  // Optional: the partition every message goes to (PublishOptions::partition); checked against
  // the topic's partition count here, on the writer.
  std::optional<PartitionId> partition;
  // A broker-internal append (dead letters): creates the topic with default settings if it is
  // missing, even with auto-create off, and skips the message size limit (a dead letter is its
  // original plus metadata headers, so it may be a little larger than the original's limit).
  bool internal = false;
  Durability durability = Durability::kSync;
  ExtraWrites extra;  // optional
  // Optional, run after `extra` with the request's messages, their positions and their append
  // time (the records exactly as they will read back), before the write. The delivery layer
  // leases new records to waiting consumers in the same write and hands them over after it.
  std::function<void(rocksdb::WriteBatch& batch, const std::vector<Message>& messages,
                     const std::vector<PublishResult>& positions, TimePoint timestamp)>
      stage;
  std::function<void(Result<std::vector<PublishResult>>)> done;
  // With Durability::kAsync only: if no commit is running and nothing is queued, Append commits
  // this request on the calling thread (and runs `done` there) rather than on the writer thread.
  // Never set for sync durability (the caller would wait for an fsync) nor by a caller holding a
  // lock that `extra`, `stage` or `done` take.
  bool inline_if_idle = false;
};

struct WriterConfig {
  Limits limits;
  bool auto_create_topics = true;
  TopicConfig default_topic_config;
  TopicConfig dead_letter_topic_config;  // for topics an `internal` append creates
  std::chrono::milliseconds dedupe_window{std::chrono::minutes(2)};
  std::shared_ptr<Clock> clock;
  // Optional. Runs on the committing thread when a publish is refused for an interest topic's
  // max_bytes, so the owner can run retention early. Must only signal (never wait or write).
  std::function<void()> on_interest_cap;
};

class LogWriter {
 public:
  LogWriter(StorageDb& db, TopicRegistry& registry, AppendNotifier& notifier, WriterConfig config);
  ~LogWriter();  // Stop()
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  void Start();
  // Commits everything queued, then stops the thread. Later requests fail with kUnavailable.
  void Stop();

  // Queues the request; its `done` runs on the writer thread after the commit. With
  // `inline_if_idle` and an idle writer it commits the request on the calling thread instead and
  // `done` has run when Append returns. If the writer is stopping, returns kUnavailable without
  // calling `done` and leaves `request` untouched, so a caller holding a lock that `done` would
  // take can handle the failure itself.
  [[nodiscard]] Status Append(AppendRequest&& request);

  // Runs `task` on the writer thread between two commits and waits for its result. Tasks may use
  // the writer-owned state freely.
  Status RunExclusive(std::function<Status()> task);

  // Writer thread only (inside RunExclusive).
  Status CreateTopicOnWriter(std::string_view name, const TopicConfig& config);
  Status DeleteTopicOnWriter(std::string_view name);

  WriteStats stats() const;

 private:
  using Task = std::function<void()>;
  using Item = std::variant<AppendRequest, Task>;
  struct Group;

  void Run();
  // Commits one request on the calling thread; the caller took the commit turn (committing_).
  void CommitInline(AppendRequest& request);
  void CommitGroup(std::vector<AppendRequest>& requests);
  // The commit state (Group) of the turn holder, kept between commits so its buffers (the
  // RocksDB write batch, the accepted list) are reused instead of reallocated per commit.
  Group& ReusedGroup();
  // Adds one synced commit's write latency to WriteStats::sync_latency. Writer thread only.
  void RecordSyncLatency(std::chrono::microseconds latency);
  // After a failed write (which stops RocksDB's writes), tries DB::Resume() before the next one.
  Status ResumeIfNeeded();
  // Adds one request's appends to the group; on error completes it at once and returns false.
  bool AddToGroup(Group& group, AppendRequest& request, TimePoint now);
  // Adds the topic's metadata (and the next free id) to `batch`.
  std::shared_ptr<TopicState> NewTopicState(std::string_view name, const TopicConfig& config,
                                            TopicId id, TimePoint now, rocksdb::WriteBatch& batch);

  StorageDb& db_;
  TopicRegistry& registry_;
  AppendNotifier& notifier_;
  const WriterConfig config_;

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_. A vector, not a deque: the writer swaps it with its own (empty) one, so in a
  // steady state queuing allocates nothing.
  std::vector<Item> queue_;
  bool stopping_ = false;  // guarded by mu_
  // Guarded by mu_: some thread (the writer, or an inline committer) holds the writer-owned state.
  // The writer thread waits for it to be false before it takes queued work; an inline commit
  // needs it false and the queue empty, so a request never commits before one queued earlier.
  bool committing_ = false;
  std::thread thread_;
  // Owned by the holder of the commit turn (committing_), like the rest of the writer's state.
  std::unique_ptr<Group> group_;
  // Held by the commit turn (committing_): a write without sync succeeded since the last synced
  // write. Then a sync request answered only as a duplicate must sync the WAL before it is
  // acknowledged, or its original (written by that write) might not be durable yet.
  bool unsynced_writes_ = false;

  std::atomic<uint64_t> commits_{0}, synced_commits_{0}, messages_{0}, synced_messages_{0},
      publish_calls_{0}, duplicates_{0};
  // WriteStats::sync_latency: written by the writer thread only, read by stats() from any thread.
  std::array<std::atomic<uint64_t>, SyncLatencyHistogram::kBoundsMicros.size() + 1>
      sync_latency_counts_{};
  std::atomic<uint64_t> sync_latency_sum_micros_{0};
};

}  // namespace broker::storage
