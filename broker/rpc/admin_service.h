// AdminServiceImpl: broker.v1.AdminService. Every call may block on the engine (topic creation
// waits for its commit, lag reads RocksDB), so each runs on the Executor and finishes from there.
#pragma once

#include <chrono>
#include <string>

#include "broker/v1/admin.grpc.pb.h"
#include "broker/broker.h"
#include "rpc/auth.h"
#include "rpc/executor.h"

namespace broker::rpc {

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(Broker& broker, Executor& executor, const Authorizer& auth,
                   std::string data_dir);

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext*, const v1::CreateTopicRequest*,
                                        v1::TopicInfo*) override;
  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext*, const v1::ListTopicsRequest*,
                                       v1::ListTopicsResponse*) override;
  grpc::ServerUnaryReactor* DescribeTopic(grpc::CallbackServerContext*,
                                          const v1::DescribeTopicRequest*, v1::TopicInfo*) override;
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext*, const v1::DeleteTopicRequest*,
                                        v1::DeleteTopicResponse*) override;
  grpc::ServerUnaryReactor* CreateGroup(grpc::CallbackServerContext*, const v1::CreateGroupRequest*,
                                        v1::GroupInfo*) override;
  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext*, const v1::ListGroupsRequest*,
                                       v1::ListGroupsResponse*) override;
  grpc::ServerUnaryReactor* DescribeGroup(grpc::CallbackServerContext*,
                                          const v1::DescribeGroupRequest*, v1::GroupInfo*) override;
  grpc::ServerUnaryReactor* DeleteGroup(grpc::CallbackServerContext*, const v1::DeleteGroupRequest*,
                                        v1::DeleteGroupResponse*) override;
  grpc::ServerUnaryReactor* ResetGroup(grpc::CallbackServerContext*, const v1::ResetGroupRequest*,
                                       v1::GroupInfo*) override;
  grpc::ServerUnaryReactor* GetMessage(grpc::CallbackServerContext*, const v1::GetMessageRequest*,
                                       v1::GetMessageResponse*) override;
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext*, const v1::ReadRequest*,
                                 v1::ReadResponse*) override;
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext*,
                                            const v1::ListDeadLettersRequest*,
                                            v1::ListDeadLettersResponse*) override;
  grpc::ServerUnaryReactor* Redrive(grpc::CallbackServerContext*, const v1::RedriveRequest*,
                                    v1::RedriveResponse*) override;
  grpc::ServerUnaryReactor* PurgeDeadLetters(grpc::CallbackServerContext*,
                                             const v1::PurgeDeadLettersRequest*,
                                             v1::PurgeDeadLettersResponse*) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext*, const v1::GetStatsRequest*,
                                     v1::Stats*) override;
  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext*, const v1::BackupRequest*,
                                   v1::BackupResponse*) override;

 private:
  // Checks `right` on `topic`, then runs `work` (returning a Status) on the executor and finishes.
  template <typename Work>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, Right right,
                                const std::string& topic, Work work);
  // For list calls: checks `right`, then runs `work(scope)` (returning a Status) on the executor
  // with the topics the caller may see, and finishes.
  template <typename Work>
  grpc::ServerUnaryReactor* RunScoped(grpc::CallbackServerContext* context, Right right,
                                      Work work);

  Broker& broker_;
  Executor& executor_;
  const Authorizer& auth_;
  const std::string data_dir_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace broker::rpc
