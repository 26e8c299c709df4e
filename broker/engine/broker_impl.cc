#include "engine/broker_impl.h"

#include <algorithm>
#include <future>

#include "storage/log_reader.h"
#include "storage/retention.h"
#include "storage/validation.h"

namespace broker {

Result<std::unique_ptr<Broker>> Broker::Open(Options options) {
  return BrokerImpl::Open(std::move(options));
}

BrokerImpl::BrokerImpl(Options options) : options_(std::move(options)) {}

Result<std::unique_ptr<Broker>> BrokerImpl::Open(Options options, rocksdb::Env* env_for_testing) {
  if (!options.clock) options.clock = Clock::System();
  if (options.data_dir.empty()) return Status::InvalidArgument("data_dir is empty");
  if (Status s = storage::ValidateTopicConfig(options.default_topic_config, options.limits);
      !s.ok()) {
    return Status::InvalidArgument("default_topic_config: " + s.message());
  }
  if (Status s = storage::ValidateTopicConfig(options.dead_letter_topic_config, options.limits);
      !s.ok()) {
    return Status::InvalidArgument("dead_letter_topic_config: " + s.message());
  }
  if (options.dead_letter_topic_config.partitions != 1) {
    return Status::InvalidArgument(
        "dead_letter_topic_config: partitions must be 1 (a dead letter's offset names it)");
  }
  if (Status s = storage::ValidateTopicConfig(options.request_topic_config, options.limits);
      !s.ok()) {
    return Status::InvalidArgument("request_topic_config: " + s.message());
  }
  if (options.dedupe_window.count() <= 0) {
    return Status::InvalidArgument("dedupe_window must be positive");
  }
  std::unique_ptr<BrokerImpl> broker(new BrokerImpl(std::move(options)));
  const Options& o = broker->options_;

  auto db = storage::StorageDb::Open(o, env_for_testing);
  if (!db.ok()) return db.status();
  broker->db_ = std::move(db).value();
  if (Status s = broker->registry_.Load(*broker->db_); !s.ok()) return s;

  storage::WriterConfig writer_config{o.limits, o.auto_create_topics, o.default_topic_config,
                                      o.dead_letter_topic_config, o.dedupe_window, o.clock,
                                      [b = broker.get()] { b->RequestRetention(); }};
  broker->writer_ = std::make_unique<storage::LogWriter>(*broker->db_, broker->registry_,
                                                         broker->notifier_, writer_config);
  broker->writer_->Start();

  delivery::DeliveryContext delivery_context;
  delivery_context.db = broker->db_.get();
  delivery_context.writer = broker->writer_.get();
  delivery_context.registry = &broker->registry_;
  delivery_context.clock = o.clock;
  delivery_context.durability = o.durability;
  delivery_context.ack_flush_batch = o.ack_flush_batch;
  broker->delivery_ =
      std::make_unique<delivery::DeliveryManager>(delivery_context, broker->notifier_, o);
  if (Status s = broker->delivery_->Load(); !s.ok()) return s;
  broker->delivery_->Start();
  if (o.background_work) {
    broker->maintenance_thread_ = std::thread([b = broker.get()] { b->MaintenanceLoop(); });
  }
  return std::unique_ptr<Broker>(std::move(broker));
}

BrokerImpl::~BrokerImpl() {
  {
    std::lock_guard lock(maintenance_mu_);
    stopping_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  if (delivery_) delivery_->Stop();  // persists batched acks through the writer
  if (writer_) writer_->Stop();
  writer_.reset();
  db_.reset();
}

void BrokerImpl::MaintenanceLoop() {
  // Early passes (RequestRetention) are spaced by this much, so a stream of refused publishes
  // does not turn into a stream of passes (each commits every interest group's state).
  constexpr auto kMinGap = std::chrono::milliseconds(100);
  std::unique_lock lock(maintenance_mu_);
  while (true) {
    maintenance_cv_.wait_for(lock, options_.retention_interval,
                             [this] { return stopping_ || retention_requested_; });
    if (stopping_) return;
    retention_requested_ = false;
    lock.unlock();
    // A failure here (e.g. a full disk) is retried on the next pass; nothing is lost by waiting.
    (void)RunRetention();
    lock.lock();
    if (maintenance_cv_.wait_for(lock, kMinGap, [this] { return stopping_; })) return;
  }
}

void BrokerImpl::RequestRetention() {
  {
    std::lock_guard lock(maintenance_mu_);
    retention_requested_ = true;
  }
  maintenance_cv_.notify_all();
}

Status BrokerImpl::CreateTopic(std::string_view name, const TopicConfig& config) {
  if (Status s = storage::ValidateTopicName(name); !s.ok()) return s;
  if (Status s = storage::ValidateTopicConfig(config, options_.limits); !s.ok()) return s;
  return writer_->RunExclusive([&] { return writer_->CreateTopicOnWriter(name, config); });
}

Result<std::vector<TopicInfo>> BrokerImpl::ListTopics() {
  std::vector<TopicInfo> out;
  for (const auto& topic : registry_.All()) out.push_back(topic->Describe());
  return out;
}

Result<TopicInfo> BrokerImpl::DescribeTopic(std::string_view name) {
  if (Status s = storage::ValidateTopicName(name); !s.ok()) return s;
  auto topic = registry_.Find(name);
  if (!topic) return Status::NotFound("topic '" + std::string(name) + "' does not exist");
  return topic->Describe();
}

Status BrokerImpl::DeleteTopic(std::string_view name) {
  if (Status s = storage::ValidateTopicName(name); !s.ok()) return s;
  if (!registry_.Find(name)) return Status::NotFound("topic '" + std::string(name) + "' does not exist");
  if (Status s = delivery_->DropTopicGroups(name); !s.ok()) return s;
  return writer_->RunExclusive([&] { return writer_->DeleteTopicOnWriter(name); });
}

Status BrokerImpl::Validate(std::string_view topic, const std::vector<Message>& messages,
                            bool known_topic) const {
  if (!known_topic) {
    if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
  }
  if (messages.empty()) return Status::InvalidArgument("a publish needs at least one message");
  if (messages.size() > options_.limits.max_batch_messages) {
    return Status::InvalidArgument("batch of " + std::to_string(messages.size()) +
                                   " messages exceeds the limit of " +
                                   std::to_string(options_.limits.max_batch_messages));
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    Status s = storage::ValidateMessage(messages[i], options_.limits,
                                        options_.limits.max_message_bytes);
    if (!s.ok()) {
      if (messages.size() == 1) return s;
      return Status(s.code(), "message " + std::to_string(i) + " of the batch: " + s.message() +
                                  " (nothing of this batch was written)");
    }
  }
  return Status::Ok();
}

void BrokerImpl::PublishAsync(std::string_view topic, std::vector<Message> messages,
                              const PublishOptions& options, PublishCallback done) {
  // Resolved here, on the caller's thread, so the writer (the serial part) skips the lookup and
  // the request carries no copy of the name.
  std::shared_ptr<storage::TopicState> resolved = registry_.Find(topic);
  if (Status s = Validate(topic, messages, resolved != nullptr); !s.ok()) {
    done(std::move(s));
    return;
  }
  if (options.require_subscribers && !delivery_->HasSubscribers(topic)) {
    done(Status::NoRespondersFor(topic));
    return;
  }
  storage::AppendRequest request;
  if (resolved) {
    request.resolved_topic = std::move(resolved);
  } else {
    request.topic = std::string(topic);
  }
  request.messages = std::move(messages);
  request.partition = options.partition;
  request.durability = options.durability.value_or(options_.durability);
  request.inline_if_idle = options.inline_commit;
  if (delivery_->HasMembers()) {
    // A member waiting for records when this is committed gets them leased in the same commit (a
    // direct hand-off): it needs no commit of its own and is woken once.
    auto handoff = std::make_shared<delivery::HandOff>();
    request.stage = [delivery = delivery_.get(), handoff, topic = std::string(topic)](
                        rocksdb::WriteBatch& batch, const std::vector<Message>& appended,
                        const std::vector<PublishResult>& positions, TimePoint timestamp) {
      delivery->StageHandOff(topic, batch, appended, positions, timestamp, *handoff);
    };
    request.done = [handoff, done = std::move(done)](Result<std::vector<PublishResult>> result) {
      handoff->Finish(result.ok());
      done(std::move(result));
    };
  } else {
    request.done = std::move(done);
  }
  if (Status s = writer_->Append(std::move(request)); !s.ok()) request.done(std::move(s));
}

Result<std::vector<PublishResult>> BrokerImpl::PublishBatch(std::string_view topic,
                                                            std::vector<Message> messages,
                                                            const PublishOptions& options) {
  std::promise<Result<std::vector<PublishResult>>> promise;
  auto future = promise.get_future();
  // The caller waits for the result anyway, and the callback only fulfils the promise.
  PublishOptions inline_options = options;
  inline_options.inline_commit = true;
  PublishAsync(topic, std::move(messages), inline_options,
               [&promise](Result<std::vector<PublishResult>> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Result<PublishResult> BrokerImpl::Publish(std::string_view topic, Message message,
                                          const PublishOptions& options) {
  std::vector<Message> one;
  one.push_back(std::move(message));
  auto result = PublishBatch(topic, std::move(one), options);
  if (!result.ok()) return result.status();
  return result->front();
}

Result<std::shared_ptr<storage::TopicState>> BrokerImpl::FindPartition(std::string_view topic,
                                                                       PartitionId partition) const {
  if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
  auto state = registry_.Find(topic);
  if (!state) return Status::NotFound("topic '" + std::string(topic) + "' does not exist");
  if (partition.value() >= state->partitions.size()) {
    return Status::InvalidArgument("topic '" + std::string(topic) + "' has " +
                                   std::to_string(state->partitions.size()) +
                                   " partitions; partition " + std::to_string(partition.value()) +
                                   " does not exist");
  }
  return state;
}

Result<ReadResult> BrokerImpl::Read(std::string_view topic, PartitionId partition, Offset from,
                                    const ReadLimits& limits) {
  auto state = FindPartition(topic, partition);
  if (!state.ok()) return state.status();
  return storage::ReadPartition(*db_, **state, partition, from, limits);
}

Result<Offset> BrokerImpl::WaitForRecords(std::string_view topic, PartitionId partition,
                                          Offset offset, std::chrono::milliseconds timeout) {
  auto state = FindPartition(topic, partition);
  if (!state.ok()) return state.status();
  const storage::PartitionState& p = *(*state)->partitions[partition.value()];
  const auto& topic_state = **state;
  notifier_.WaitUntil(std::chrono::steady_clock::now() + timeout, [&] {
    return p.end_offset.load() > offset.value() || topic_state.deleted.load();
  });
  if (topic_state.deleted.load()) {
    return Status::NotFound("topic '" + std::string(topic) + "' was deleted");
  }
  return Offset(std::max(p.end_offset.load(), offset.value()));
}

Result<uint64_t> BrokerImpl::RunRetention() {
  std::vector<std::pair<std::string, std::string>> to_compact;
  auto deleted = ApplyRetentionPass(to_compact);
  // Outside retention_mu_: a compaction may take a while, and group creation need not wait.
  for (const auto& [begin, end] : to_compact) {
    if (Status s = db_->CompactDeletedRange(begin, end); !s.ok()) return s;
  }
  return deleted;
}

Result<uint64_t> BrokerImpl::ApplyRetentionPass(
    std::vector<std::pair<std::string, std::string>>& to_compact) {
  std::lock_guard retention_lock(retention_mu_);
  // Interest floors are taken (and the groups' state behind them committed) before the writer
  // deletes: the writer must not wait for group writes, which it commits itself.
  storage::SettledFloors settled;
  Status floors_status = Status::Ok();
  for (const auto& topic : registry_.All()) {
    if (topic->record.config.retention != RetentionPolicy::kInterest) continue;
    auto floors = delivery_->SettledFloors(topic->record.id);
    if (!floors.ok()) {
      if (floors_status.ok()) floors_status = floors.status();
      continue;  // this topic keeps its records until a pass can trust its floors
    }
    if (*floors) settled.emplace(topic->record.id.value(), std::move(**floors));
  }
  // Dead-letter topics: letters no group names any more (purged, redriven) go, below the lowest
  // one still held (their only partition). Taken the same way, before the writer deletes.
  if (auto dead = delivery_->DeadLetterFloors(); !dead.ok()) {
    if (floors_status.ok()) floors_status = dead.status();  // every letter kept this pass
  } else {
    for (const auto& [topic, floor] : *dead) {
      auto [it, inserted] = settled.emplace(topic, std::vector<uint64_t>{floor});
      // (A dead-letter topic with interest retention: deleted only below both floors.)
      if (!inserted && !it->second.empty()) it->second[0] = std::min(it->second[0], floor);
    }
  }
  uint64_t deleted = 0;
  Status s = writer_->RunExclusive([&]() -> Status {
    auto result = storage::ApplyRetention(*db_, registry_, options_.clock->Now(),
                                          options_.dedupe_window, settled);
    if (!result.ok()) return result.status();
    deleted = result->records_deleted;
    to_compact = std::move(result->to_compact);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!floors_status.ok()) return floors_status;
  return deleted;
}

WriteStats BrokerImpl::GetWriteStats() const { return writer_->stats(); }

Status BrokerImpl::WaitUntilDiskWritable(std::chrono::milliseconds timeout) {
  if (db_->WaitForFullDiskRecovery(timeout)) return Status::Ok();
  if (!db_->recovering_from_full_disk()) {
    return Status::Unavailable(
        "writes are stopped by a write error other than a full disk; the next write tries to "
        "resume them, and its error says why if it cannot");
  }
  return Status::ResourceExhausted("the disk is still full after " +
                                   std::to_string(timeout.count()) +
                                   " ms: writes resume by themselves once space is freed in " +
                                   options_.data_dir);
}

Result<uint64_t> BrokerImpl::Checkpoint(const std::string& dir) {
  if (options_.in_memory) {
    return Status::FailedPrecondition("an in-memory broker has no data directory to copy");
  }
  return db_->Checkpoint(dir);
}

Status BrokerImpl::CreateGroup(std::string_view topic, std::string_view group,
                               const GroupConfig& config) {
  std::lock_guard retention_lock(retention_mu_);
  return delivery_->CreateGroup(topic, group, config);
}

Result<std::vector<GroupInfo>> BrokerImpl::ListGroups(std::string_view topic) {
  return delivery_->ListGroups(topic);
}

Result<GroupInfo> BrokerImpl::DescribeGroup(std::string_view topic, std::string_view group) {
  auto found = delivery_->Find(topic, group);
  if (!found.ok()) return found.status();
  return (*found)->Describe();
}

Status BrokerImpl::DeleteGroup(std::string_view topic, std::string_view group) {
  return delivery_->DeleteGroup(topic, group);
}

Result<std::unique_ptr<Subscription>> BrokerImpl::Subscribe(std::string_view topic,
                                                            std::string_view group,
                                                            const SubscribeOptions& options) {
  if (Status s = storage::ValidateTopicName(topic); !s.ok()) return s;
  if (!registry_.Find(topic)) {
    if (!options_.auto_create_topics) {
      return Status::NotFound("topic '" + std::string(topic) +
                              "' does not exist (auto-create is off); create it first");
    }
    const TopicConfig& config = options.group.serves_requests ? options_.request_topic_config
                                                              : options_.default_topic_config;
    Status s =
        writer_->RunExclusive([&] { return writer_->CreateTopicOnWriter(topic, config); });
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s;
  }
  std::lock_guard retention_lock(retention_mu_);  // it may create the group
  return delivery_->Subscribe(topic, group, options);
}

Result<GroupInfo> BrokerImpl::ResetGroup(std::string_view topic, std::string_view group,
                                         const ResetPosition& position) {
  // Positions below the first retained offset are clamped to it (an interest topic has deleted
  // what every group had settled; records are never brought back).
  std::lock_guard retention_lock(retention_mu_);
  auto found = delivery_->Find(topic, group);
  if (!found.ok()) return found.status();
  auto state = registry_.Find(topic);
  if (!state) return Status::NotFound("topic '" + std::string(topic) + "' does not exist");
  if (position.partition && position.partition->value() >= state->partitions.size()) {
    return Status::InvalidArgument("topic '" + std::string(topic) + "' has no partition " +
                                   std::to_string(position.partition->value()));
  }
  std::vector<std::optional<uint64_t>> positions(state->partitions.size());
  for (uint32_t p = 0; p < state->partitions.size(); ++p) {
    if (position.partition && position.partition->value() != p) continue;
    const uint64_t first = state->partitions[p]->first_offset.load();
    const uint64_t end = state->partitions[p]->end_offset.load();
    switch (position.kind) {
      case ResetPosition::Kind::kEarliest:
        positions[p] = first;
        break;
      case ResetPosition::Kind::kLatest:
        positions[p] = end;
        break;
      case ResetPosition::Kind::kOffset:
        positions[p] = std::clamp(position.offset, first, end);
        break;
      case ResetPosition::Kind::kTime: {
        auto offset = storage::OffsetForTime(*db_, *state, PartitionId(p), position.time);
        if (!offset.ok()) return offset.status();
        positions[p] = std::clamp(offset->value(), first, end);
        break;
      }
    }
  }
  if (Status s = (*found)->Reset(positions); !s.ok()) return s;
  return (*found)->Describe();
}

Result<std::vector<MessageGroupState>> BrokerImpl::GetMessageState(std::string_view topic,
                                                                   PartitionId partition,
                                                                   Offset offset) {
  return delivery_->StatesOf(topic, partition, offset);
}

Result<std::vector<DeadLetter>> BrokerImpl::ListDeadLetters(std::string_view topic,
                                                            std::string_view group, size_t limit) {
  return ListDeadLettersFrom(topic, group, Offset(0), limit);
}

Result<std::vector<DeadLetter>> BrokerImpl::ListDeadLettersFrom(std::string_view topic,
                                                                std::string_view group,
                                                                Offset from, size_t limit) {
  auto found = delivery_->Find(topic, group);
  if (!found.ok()) return found.status();
  return (*found)->ListDeadLetters(from, limit);
}

Result<RedriveResult> BrokerImpl::Redrive(std::string_view topic, std::string_view group,
                                          const RedriveOptions& options) {
  if (options.rate_per_second < 0) return Status::InvalidArgument("rate must not be negative");
  auto found = delivery_->Find(topic, group);
  if (!found.ok()) return found.status();
  return (*found)->Redrive(options);
}

Result<uint64_t> BrokerImpl::PurgeDeadLetters(std::string_view topic, std::string_view group,
                                              const DeadLetterFilter& filter) {
  auto found = delivery_->Find(topic, group);
  if (!found.ok()) return found.status();
  return (*found)->Purge(filter);
}

Status BrokerImpl::RunDeliveryTimers() { return delivery_->RunTimers(); }

Result<std::unique_ptr<Inbox>> BrokerImpl::OpenInbox(ReplyHandler on_reply) {
  return inboxes_.Open(std::move(on_reply));
}

Status BrokerImpl::SendReply(std::string_view inbox, Message reply) {
  if (inbox.empty()) return Status::InvalidArgument("reply inbox address is empty");
  return inboxes_.Send(inbox, std::move(reply));
}

bool BrokerImpl::HasSubscribers(std::string_view topic) {
  return delivery_->HasSubscribers(topic);
}

}  // namespace broker
