// BrokerServiceImpl: broker.v1.BrokerService on the gRPC callback API, over a broker::Broker.
// Publish queues on the engine's writer and finishes from its callback; Subscribe and OpenInbox
// are stream reactors; nothing here blocks a gRPC thread.
#pragma once

#include "broker/v1/broker.grpc.pb.h"
#include "broker/broker.h"
#include "rpc/auth.h"
#include "rpc/executor.h"
#include "rpc/pending_requests.h"

namespace broker::rpc {

class BrokerServiceImpl final : public v1::BrokerService::CallbackService {
 public:
  BrokerServiceImpl(Broker& broker, Executor& executor, const Authorizer& auth)
      : broker_(broker), executor_(executor), auth_(auth) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const v1::PublishRequest* request,
                                    v1::PublishResponse* response) override;
  grpc::ServerBidiReactor<v1::SubscribeRequest, v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<v1::InboxCommand, v1::InboxEvent>* OpenInbox(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* SendReply(grpc::CallbackServerContext* context,
                                      const v1::SendReplyRequest* request,
                                      v1::SendReplyResponse* response) override;
  grpc::ServerUnaryReactor* HasSubscribers(grpc::CallbackServerContext* context,
                                           const v1::HasSubscribersRequest* request,
                                           v1::HasSubscribersResponse* response) override;

 private:
  Broker& broker_;
  Executor& executor_;
  const Authorizer& auth_;
  // Requests published through this service's inbox streams: what replies may answer.
  PendingRequests pending_;
};

}  // namespace broker::rpc
