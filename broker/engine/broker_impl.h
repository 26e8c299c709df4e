// BrokerImpl: wires storage (and later delivery) together behind the public Broker interface and
// owns the background maintenance thread.
//
// Thread safety: as Broker. Constant after Open: options_, db_, registry_ contents are changed only
// by writer_. The maintenance thread only queues work on the writer.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rocksdb/env.h>

#include "broker/broker.h"
#include "delivery/delivery_manager.h"
#include "engine/inbox_registry.h"
#include "storage/append_notifier.h"
#include "storage/log_writer.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker {

class BrokerImpl final : public Broker {
 public:
  // `env_for_testing` replaces RocksDB's Env (fault-injection tests); it must outlive the broker.
  static Result<std::unique_ptr<Broker>> Open(Options options,
                                              rocksdb::Env* env_for_testing = nullptr);
  ~BrokerImpl() override;

  Status CreateTopic(std::string_view name, const TopicConfig& config) override;
  Result<std::vector<TopicInfo>> ListTopics() override;
  Result<TopicInfo> DescribeTopic(std::string_view name) override;
  Status DeleteTopic(std::string_view name) override;

  Result<PublishResult> Publish(std::string_view topic, Message message,
                                const PublishOptions& options) override;
  Result<std::vector<PublishResult>> PublishBatch(std::string_view topic,
                                                  std::vector<Message> messages,
                                                  const PublishOptions& options) override;
  void PublishAsync(std::string_view topic, std::vector<Message> messages,
                    const PublishOptions& options, PublishCallback done) override;

  Result<ReadResult> Read(std::string_view topic, PartitionId partition, Offset from,
                          const ReadLimits& limits) override;
  Result<Offset> WaitForRecords(std::string_view topic, PartitionId partition, Offset offset,
                                std::chrono::milliseconds timeout) override;

  Status CreateGroup(std::string_view topic, std::string_view group,
                     const GroupConfig& config) override;
  Result<std::vector<GroupInfo>> ListGroups(std::string_view topic) override;
  Result<GroupInfo> DescribeGroup(std::string_view topic, std::string_view group) override;
  Status DeleteGroup(std::string_view topic, std::string_view group) override;
  Result<std::unique_ptr<Subscription>> Subscribe(std::string_view topic, std::string_view group,
                                                  const SubscribeOptions& options) override;
  Result<GroupInfo> ResetGroup(std::string_view topic, std::string_view group,
                               const ResetPosition& position) override;
  Result<std::vector<MessageGroupState>> GetMessageState(std::string_view topic,
                                                         PartitionId partition,
                                                         Offset offset) override;
  Result<std::vector<DeadLetter>> ListDeadLetters(std::string_view topic, std::string_view group,
                                                  size_t limit) override;
  Result<std::vector<DeadLetter>> ListDeadLettersFrom(std::string_view topic,
                                                      std::string_view group, Offset from,
                                                      size_t limit) override;
  Result<RedriveResult> Redrive(std::string_view topic, std::string_view group,
                                const RedriveOptions& options) override;
  Result<uint64_t> PurgeDeadLetters(std::string_view topic, std::string_view group,
                                    const DeadLetterFilter& filter) override;
  Status RunDeliveryTimers() override;

  Result<std::unique_ptr<Inbox>> OpenInbox(ReplyHandler on_reply) override;
  Status SendReply(std::string_view inbox, Message reply) override;
  bool HasSubscribers(std::string_view topic) override;

  Result<uint64_t> RunRetention() override;
  WriteStats GetWriteStats() const override;
  Status WaitUntilDiskWritable(std::chrono::milliseconds timeout) override;
  Result<uint64_t> Checkpoint(const std::string& dir) override;

 private:
  explicit BrokerImpl(Options options);
  // `known_topic`: the name is that of an existing topic, checked when it was created, so it is
  // not checked again (a character-by-character check on every publish otherwise).
  Status Validate(std::string_view topic, const std::vector<Message>& messages,
                  bool known_topic) const;
  Result<std::shared_ptr<storage::TopicState>> FindPartition(std::string_view topic,
                                                             PartitionId partition) const;
  void MaintenanceLoop();
  // Asks the maintenance thread for a retention pass now (an interest topic hit its cap).
  void RequestRetention();
  // RunRetention without the compaction: floors, deletion; returns records deleted and the
  // ranges to compact.
  Result<uint64_t> ApplyRetentionPass(std::vector<std::pair<std::string, std::string>>& to_compact);

  const Options options_;
  std::unique_ptr<storage::StorageDb> db_;
  storage::TopicRegistry registry_;
  storage::AppendNotifier notifier_;
  std::unique_ptr<storage::LogWriter> writer_;
  std::unique_ptr<delivery::DeliveryManager> delivery_;
  InboxRegistry inboxes_;

  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool stopping_ = false;  // guarded by maintenance_mu_
  bool retention_requested_ = false;  // guarded by maintenance_mu_
  // Serialises a retention pass with group creation and ResetGroup, so a pass never deletes,
  // on the strength of the other groups' floors, records a group created or rewound meanwhile
  // is to read. Never held by the writer thread. Lock order: retention_mu_ -> everything else.
  std::mutex retention_mu_;
  std::thread maintenance_thread_;
};

}  // namespace broker
