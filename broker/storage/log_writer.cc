#include "storage/log_writer.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <unordered_map>

#include <rocksdb/perf_level.h>

#include "storage/byte_order.h"
#include "storage/keys.h"
#include "storage/partitioner.h"
#include "storage/record_codec.h"
#include "storage/rocks_status.h"
#include "storage/topic_meta.h"
#include "storage/validation.h"

namespace broker::storage {
namespace {

// A group stops taking requests past these, to bound commit latency and memory.
constexpr size_t kMaxGroupRequests = 4096;
// A batch value is closed past this size and the next record starts a new key.
constexpr size_t kMaxBatchValueBytes = 1 << 20;
// A commit's write batch that grew past this is freed rather than kept for the next commit, so
// one large commit does not pin its memory.
constexpr size_t kMaxReusedBatchBytes = 8 << 20;
// Batch encoders kept between commits for the next commit's partitions, so a commit to a few
// partitions allocates (and first touches) no encoder buffer. One that grew past
// kMaxBatchValueBytes (a single large message) is freed instead: at most 8 MiB stays pinned.
constexpr size_t kMaxSpareEncoders = 8;

std::string EncodeNextTopicId(TopicId id) {
  std::string v;
  PutLittle32(v, id.value());
  return v;
}

}  // namespace

// Everything one commit writes, built on the writer thread.
struct LogWriter::Group {
  struct PartitionAppend {
    TopicState* topic = nullptr;
    PartitionId partition;
    PartitionRecord record;  // tentative bounds after this group
    BatchEncoder encoder;
    Offset encoder_base;
    uint64_t encoder_bytes = 0;
  };

  rocksdb::WriteBatch batch;
  bool sync = false;
  std::map<std::pair<uint32_t, uint32_t>, PartitionAppend> partitions;
  std::map<std::string, std::shared_ptr<TopicState>, std::less<>> new_topics;
  std::unordered_map<std::string, PublishResult> dedupe;  // keys first seen in this group
  TopicId next_topic_id;
  struct Accepted {
    AppendRequest* request;
    std::vector<PublishResult> results;
  };
  std::vector<Accepted> accepted;
  uint64_t messages = 0;
  uint64_t duplicates = 0;
  uint64_t publish_calls = 0;  // accepted requests from publishers (not group state, dead letters)
  // Empty encoders of earlier commits, whose buffers the next commit's partitions take over.
  std::vector<BatchEncoder> spare_encoders;

  // Empties the group for the next commit, keeping the write batch's, the accepted list's and
  // (up to kMaxSpareEncoders) the encoders' buffers.
  void Reset(TopicId next_id) {
    if (batch.GetDataSize() > kMaxReusedBatchBytes) {
      batch = rocksdb::WriteBatch();
    } else {
      batch.Clear();
    }
    sync = false;
    for (auto& [key, pa] : partitions) {
      if (spare_encoders.size() == kMaxSpareEncoders) break;
      if (pa.encoder.capacity() > kMaxBatchValueBytes) continue;
      pa.encoder.Reset();  // empty already unless the commit failed before its flush
      spare_encoders.push_back(std::move(pa.encoder));
    }
    partitions.clear();
    new_topics.clear();
    dedupe.clear();
    next_topic_id = next_id;
    accepted.clear();
    messages = 0;
    duplicates = 0;
    publish_calls = 0;
  }

  // Stored bytes of `topic` with this group's appends so far.
  uint64_t TopicBytes(const TopicState& topic) const {
    uint64_t bytes = 0;
    for (uint32_t p = 0; p < topic.partitions.size(); ++p) {
      auto it = partitions.find({topic.record.id.value(), p});
      bytes += it != partitions.end() ? it->second.record.bytes : topic.partitions[p]->bytes.load();
    }
    return bytes;
  }

  void FlushEncoder(PartitionAppend& pa, const StorageDb& db) {
    if (pa.encoder.count() == 0) return;
    const std::string key = LogKey(pa.topic->record.id, pa.partition, pa.encoder_base);
    BatchIndexEntry index{pa.encoder.count(), pa.encoder_bytes, pa.encoder.max_timestamp()};
    batch.Put(db.log(), key, pa.encoder.Seal());  // copies the value: the buffer is reused
    batch.Put(db.log_index(), key, EncodeIndexEntry(index));
    pa.encoder.Reset();
    pa.encoder_bytes = 0;
  }
};

LogWriter::LogWriter(StorageDb& db, TopicRegistry& registry, AppendNotifier& notifier,
                     WriterConfig config)
    : db_(db),
      registry_(registry),
      notifier_(notifier),
      config_(std::move(config)),
      group_(std::make_unique<Group>()) {}

LogWriter::~LogWriter() { Stop(); }

void LogWriter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void LogWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status LogWriter::Append(AppendRequest&& request) {
  {
    std::unique_lock lock(mu_);
    if (stopping_) return Status::Unavailable("the broker is shutting down");
    if (request.inline_if_idle && request.durability == Durability::kAsync && !committing_ &&
        queue_.empty()) {
      committing_ = true;
      lock.unlock();
      CommitInline(request);
      return Status::Ok();
    }
    queue_.emplace_back(std::move(request));
  }
  // After unlocking, so the writer does not wake into a held mutex and switch back at once.
  cv_.notify_one();
  return Status::Ok();
}

void LogWriter::CommitInline(AppendRequest& request) {
  // As on the writer thread (see Run), but the caller's own perf level is put back afterwards.
  const rocksdb::PerfLevel caller_perf_level = rocksdb::GetPerfLevel();
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  std::vector<AppendRequest> group;
  group.push_back(std::move(request));
  CommitGroup(group);
  rocksdb::SetPerfLevel(caller_perf_level);
  bool wake_writer = false;
  {
    std::lock_guard lock(mu_);
    committing_ = false;
    // Work queued meanwhile (or Stop) waited for the turn: the writer takes it from here.
    wake_writer = !queue_.empty() || stopping_;
  }
  if (wake_writer) cv_.notify_one();
}

Status LogWriter::RunExclusive(std::function<Status()> task) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("the broker is shutting down");
    queue_.emplace_back(Task([&promise, &task] { promise.set_value(task()); }));
  }
  cv_.notify_one();
  return future.get();
}

void LogWriter::Run() {
  // RocksDB's per-thread perf counters cost a thread-local lookup on every key comparison of a
  // memtable insert (most of the writer's time when profiled); nothing here reads them.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  // Both keep their capacity between passes: taking the queue is a swap, and a steady stream of
  // publishes allocates nothing here.
  std::vector<Item> items;
  std::vector<AppendRequest> group;
  bool holds_turn = false;  // this thread holds committing_ from the previous pass
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // Handed back only here, under the lock this pass takes anyway: an inline commit that comes
      // meanwhile finds the turn taken and queues, which is no worse.
      if (holds_turn) committing_ = false;
      holds_turn = false;
      cv_.wait(lock, [this] { return (stopping_ || !queue_.empty()) && !committing_; });
      if (queue_.empty()) return;  // stopping and drained
      committing_ = true;
      holds_turn = true;
      items.swap(queue_);  // queue_ takes items' emptied buffer
    }
    for (auto& item : items) {
      if (auto* request = std::get_if<AppendRequest>(&item)) {
        group.push_back(std::move(*request));
        if (group.size() >= kMaxGroupRequests) {
          CommitGroup(group);
          group.clear();
        }
      } else {
        CommitGroup(group);  // tasks see every earlier append committed
        group.clear();
        // A failed resume is left to the task's own write to report.
        (void)ResumeIfNeeded();
        std::get<Task>(item)();
      }
    }
    CommitGroup(group);
    group.clear();
    items.clear();
  }
}

std::shared_ptr<TopicState> LogWriter::NewTopicState(std::string_view name,
                                                     const TopicConfig& config, TopicId id,
                                                     TimePoint now, rocksdb::WriteBatch& batch) {
  TopicRecord record{id, config, now};
  batch.Put(db_.meta(), TopicMetaKey(name), EncodeTopicRecord(record));
  batch.Put(db_.meta(), kNextTopicIdKey, EncodeNextTopicId(TopicId(record.id.value() + 1)));
  return std::make_shared<TopicState>(std::string(name), record);
}

bool LogWriter::AddToGroup(Group& group, AppendRequest& request, TimePoint now) {
  auto fail = [&request](Status status) {
    request.done(std::move(status));
    return false;
  };
  if (request.messages.empty()) {  // group-state writes only
    if (request.extra) request.extra(group.batch, {});
    group.sync |= request.durability == Durability::kSync;
    group.accepted.push_back({&request, {}});
    return true;
  }

  // Resolve the topic, creating it if allowed. A topic created in this group is installed in the
  // registry only if the commit succeeds.
  const std::string_view name =
      request.resolved_topic ? std::string_view(request.resolved_topic->name) : request.topic;
  std::shared_ptr<TopicState> topic =
      request.resolved_topic && !request.resolved_topic->deleted.load(std::memory_order_relaxed)
          ? request.resolved_topic
          : registry_.Find(name);
  if (!topic) {
    auto it = group.new_topics.find(name);
    if (it != group.new_topics.end()) {
      topic = it->second;
    } else if (!config_.auto_create_topics && !request.internal) {
      return fail(Status::NotFound("topic '" + std::string(name) +
                                   "' does not exist (auto-create is off); create it first"));
    } else {
      // The registry's next id moves only if this group commits.
      // Dead-letter topics have one partition, so a dead letter's offset alone identifies it.
      TopicConfig config = config_.default_topic_config;
      if (request.internal) config = config_.dead_letter_topic_config;
      topic = NewTopicState(name, config, group.next_topic_id, now, group.batch);
      group.next_topic_id = TopicId(group.next_topic_id.value() + 1);
      group.new_topics.emplace(std::string(name), topic);
    }
  }

  if (request.partition && request.partition->value() >= topic->record.config.partitions) {
    return fail(Status::InvalidArgument(
        "topic '" + std::string(name) + "' has " + std::to_string(topic->record.config.partitions) +
        " partitions; partition " + std::to_string(request.partition->value()) +
        " does not exist (nothing was written)"));
  }
  const size_t max_bytes = topic->record.config.max_message_bytes != 0
                               ? topic->record.config.max_message_bytes
                               : config_.limits.max_message_bytes;
  for (const Message& m : request.messages) {
    if (!request.internal && MessageSize(m) > max_bytes) {
      return fail(Status::InvalidArgument("message is " + std::to_string(MessageSize(m)) +
                                          " bytes; topic '" + std::string(name) +
                                          "' accepts at most " + std::to_string(max_bytes) +
                                          " (nothing of this batch was written)"));
    }
  }

  // Dedupe lookups first, so an I/O error cannot leave half a batch in the group. Sized (and
  // allocated) only if some message has an idempotency key: it is indexed only for those.
  std::vector<std::optional<PublishResult>> stored_duplicate;
  if (std::any_of(request.messages.begin(), request.messages.end(),
                  [](const Message& m) { return !m.idempotency_key.empty(); })) {
    stored_duplicate.resize(request.messages.size());
  }
  for (size_t i = 0; i < stored_duplicate.size(); ++i) {
    const Message& m = request.messages[i];
    if (m.idempotency_key.empty() || group.new_topics.contains(name)) continue;
    std::string value;
    rocksdb::Status s =
        db_.db()->Get({}, db_.dedupe(), DedupeKey(topic->record.id, m.idempotency_key), &value);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return fail(FromRocks(s, "checking the idempotency key"));
    DedupeRecord record;
    if (DecodeDedupeRecord(value, record) && now - record.first_seen < config_.dedupe_window) {
      stored_duplicate[i] = PublishResult{record.partition, record.offset, true};
    }
  }

  if (const TopicConfig& config = topic->record.config;
      config.retention == RetentionPolicy::kInterest && config.max_bytes != 0) {
    // The interest cap: what is not a stored duplicate must fit (duplicates append nothing).
    uint64_t incoming = 0;
    for (size_t i = 0; i < request.messages.size(); ++i) {
      if (i >= stored_duplicate.size() || !stored_duplicate[i]) {
        incoming += MessageSize(request.messages[i]);
      }
    }
    const uint64_t stored = group.TopicBytes(*topic);
    if (stored + incoming > config.max_bytes) {
      if (config_.on_interest_cap) config_.on_interest_cap();
      return fail(Status::ResourceExhausted(
          "topic '" + std::string(name) + "' holds " + std::to_string(stored) +
          " bytes and is capped at max_bytes " + std::to_string(config.max_bytes) +
          " (interest retention): publishes succeed again once its groups settle (ack or "
          "dead-letter) what they hold (nothing of this batch was written)"));
    }
  }

  std::vector<PublishResult> results;
  results.reserve(request.messages.size());
  const uint32_t partitions = topic->record.config.partitions;
  for (size_t i = 0; i < request.messages.size(); ++i) {
    Message& m = request.messages[i];
    std::string dedupe_key;
    if (!m.idempotency_key.empty()) {
      dedupe_key = DedupeKey(topic->record.id, m.idempotency_key);
      auto local = group.dedupe.find(dedupe_key);
      if (local != group.dedupe.end()) {
        results.push_back({local->second.partition, local->second.offset, true});
        ++group.duplicates;
        continue;
      }
      if (stored_duplicate[i]) {
        results.push_back(*stored_duplicate[i]);
        ++group.duplicates;
        continue;
      }
    }
    const PartitionId partition = request.partition ? *request.partition
                                  : m.key           ? PartitionForKey(*m.key, partitions)
                                          : PartitionId(topic->round_robin++ % partitions);
    auto [it, inserted] =
        group.partitions.try_emplace({topic->record.id.value(), partition.value()});
    Group::PartitionAppend& pa = it->second;
    if (inserted) {
      pa.topic = topic.get();
      pa.partition = partition;
      pa.record = topic->partitions[partition.value()]->Snapshot();
      if (!group.spare_encoders.empty()) {
        pa.encoder = std::move(group.spare_encoders.back());
        group.spare_encoders.pop_back();
      }
    }
    const Offset offset = pa.record.end_offset;
    if (pa.encoder.count() == 0) pa.encoder_base = offset;
    const size_t size = pa.encoder.Add(m, now);
    pa.encoder_bytes += size;
    pa.record.bytes += size;
    pa.record.end_offset = offset + 1;
    if (pa.encoder.size() >= kMaxBatchValueBytes) group.FlushEncoder(pa, db_);
    PublishResult result{partition, offset, false};
    if (!dedupe_key.empty()) {
      group.batch.Put(db_.dedupe(), dedupe_key, EncodeDedupeRecord({partition, offset, now}));
      group.dedupe.emplace(std::move(dedupe_key), result);
    }
    results.push_back(result);
    ++group.messages;
  }
  if (request.extra) request.extra(group.batch, results);
  if (request.stage) request.stage(group.batch, request.messages, results, now);
  group.sync |= request.durability == Durability::kSync;
  if (!request.internal) ++group.publish_calls;
  group.accepted.push_back({&request, std::move(results)});
  return true;
}

LogWriter::Group& LogWriter::ReusedGroup() {
  group_->Reset(registry_.next_topic_id());
  return *group_;
}

void LogWriter::CommitGroup(std::vector<AppendRequest>& requests) {
  if (requests.empty()) return;
  const TimePoint now = config_.clock->Now();
  Group& group = ReusedGroup();
  for (AppendRequest& request : requests) AddToGroup(group, request, now);
  if (group.accepted.empty()) return;

  for (auto& [key, pa] : group.partitions) {
    group.FlushEncoder(pa, db_);
    group.batch.Put(db_.meta(), PartitionMetaKey(pa.topic->record.id, pa.partition),
                    EncodePartitionRecord(pa.record));
  }

  Status status = ResumeIfNeeded();
  std::optional<std::chrono::microseconds> sync_latency;
  if (status.ok() && group.batch.Count() > 0) {
    rocksdb::WriteOptions write_options;
    write_options.sync = group.sync;
    // A real-time measurement of I/O for WriteStats::sync_latency, not engine time: the injected
    // Clock (a FakeClock in tests) does not move during a write.
    const auto started = std::chrono::steady_clock::now();
    rocksdb::Status s = db_.db()->Write(write_options, &group.batch);
    if (group.sync) {
      sync_latency = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started);
    }
    if (!s.ok()) status = FromRocks(s, "appending to the log");
    if (s.ok()) unsynced_writes_ = !group.sync;
  } else if (status.ok() && group.sync && unsynced_writes_) {
    // Nothing to write, but a sync request: a publish answered as a duplicate (its original may
    // be in a write not yet synced, so it is durable only once the WAL is), or a barrier (a group
    // flush) that answers once what was queued before it is durable. Committed together with an
    // earlier async write, it would have synced that write too: whichever way the writer grouped
    // the requests, the same writes are durable when it is answered.
    rocksdb::Status s = db_.db()->SyncWAL();
    // (An in-memory broker, Options::in_memory, has no WAL file to sync: nothing is durable.)
    if (s.ok() || s.IsNotSupported()) {
      unsynced_writes_ = false;
    } else {
      status = FromRocks(s, "syncing the log");
    }
  }
  if (!status.ok()) {
    for (auto& accepted : group.accepted) accepted.request->done(status);
    return;
  }

  // Committed: make it visible, then acknowledge.
  for (auto& [name, topic] : group.new_topics) registry_.Insert(topic);
  registry_.set_next_topic_id(group.next_topic_id);
  std::vector<AppendEvent> events;
  events.reserve(group.partitions.size());
  for (auto& [key, pa] : group.partitions) {
    pa.topic->partitions[pa.partition.value()]->Store(pa.record);
    events.push_back({pa.topic->record.id, pa.partition, pa.record.end_offset});
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  messages_.fetch_add(group.messages, std::memory_order_relaxed);
  duplicates_.fetch_add(group.duplicates, std::memory_order_relaxed);
  publish_calls_.fetch_add(group.publish_calls, std::memory_order_relaxed);
  if (group.sync) {
    synced_commits_.fetch_add(1, std::memory_order_relaxed);
    synced_messages_.fetch_add(group.messages, std::memory_order_relaxed);
  }
  if (sync_latency) RecordSyncLatency(*sync_latency);
  for (auto& accepted : group.accepted) accepted.request->done(std::move(accepted.results));
  notifier_.Notify(events);
}

Status LogWriter::ResumeIfNeeded() {
  // Any failed write stops RocksDB's writes (appends, topic changes, retention, group state
  // alike), so the flag lives in StorageDb, which learns of every such error.
  if (!db_.needs_resume()) return Status::Ok();
  rocksdb::Status s = db_.Resume();
  if (!s.ok()) return FromRocks(s, "recovering from an earlier write error");
  return Status::Ok();
}

Status LogWriter::CreateTopicOnWriter(std::string_view name, const TopicConfig& config) {
  if (registry_.Find(name)) {
    return Status::AlreadyExists("topic '" + std::string(name) + "' already exists");
  }
  rocksdb::WriteBatch batch;
  auto topic = NewTopicState(name, config, registry_.next_topic_id(), config_.clock->Now(), batch);
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::Status s = db_.db()->Write(write_options, &batch);
  if (!s.ok()) return FromRocks(s, "creating topic '" + std::string(name) + "'");
  registry_.set_next_topic_id(TopicId(topic->record.id.value() + 1));
  registry_.Insert(std::move(topic));
  return Status::Ok();
}

Status LogWriter::DeleteTopicOnWriter(std::string_view name) {
  auto topic = registry_.Find(name);
  if (!topic) return Status::NotFound("topic '" + std::string(name) + "' does not exist");
  const TopicId id = topic->record.id;
  const std::string begin = TopicPrefix(id);
  const std::string end = TopicPrefix(TopicId(id.value() + 1));
  rocksdb::WriteBatch batch;
  batch.DeleteRange(db_.log(), begin, end);
  batch.DeleteRange(db_.log_index(), begin, end);
  batch.DeleteRange(db_.dedupe(), begin, end);
  batch.Delete(db_.meta(), TopicMetaKey(name));
  for (uint32_t p = 0; p < topic->record.config.partitions; ++p) {
    batch.Delete(db_.meta(), PartitionMetaKey(id, PartitionId(p)));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::Status s = db_.db()->Write(write_options, &batch);
  if (!s.ok()) return FromRocks(s, "deleting topic '" + std::string(name) + "'");
  registry_.Erase(name);
  notifier_.WakeWaiters();  // WaitForRecords callers on this topic return kNotFound now
  return Status::Ok();
}

void LogWriter::RecordSyncLatency(std::chrono::microseconds latency) {
  const auto& bounds = SyncLatencyHistogram::kBoundsMicros;
  const uint64_t micros = static_cast<uint64_t>(std::max<int64_t>(latency.count(), 0));
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), micros) - bounds.begin());
  sync_latency_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sync_latency_sum_micros_.fetch_add(micros, std::memory_order_relaxed);
}

WriteStats LogWriter::stats() const {
  WriteStats s;
  s.commits = commits_.load();
  s.synced_commits = synced_commits_.load();
  s.messages = messages_.load();
  s.synced_messages = synced_messages_.load();
  s.publish_calls = publish_calls_.load();
  s.duplicates = duplicates_.load();
  for (size_t i = 0; i < sync_latency_counts_.size(); ++i) {
    s.sync_latency.counts[i] = sync_latency_counts_[i].load(std::memory_order_relaxed);
  }
  s.sync_latency.sum_micros = sync_latency_sum_micros_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace broker::storage
