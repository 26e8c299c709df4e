#include "admin_probe.h"

#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>

#include "broker/v1/admin.grpc.pb.h"
#include "rpc/convert.h"
#include "rpc/status_mapping.h"

namespace broker::testing {

struct AdminProbe::Impl {
  std::unique_ptr<v1::AdminService::Stub> stub;
  std::chrono::milliseconds call_timeout;

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + call_timeout);
    return context;
  }
};

std::unique_ptr<AdminProbe> AdminProbe::Connect(const std::string& address,
                                                std::chrono::milliseconds call_timeout) {
  static std::mutex mu;
  static auto* channels = new std::map<std::string, std::shared_ptr<grpc::Channel>>();
  std::shared_ptr<grpc::Channel> channel;
  {
    std::lock_guard lock(mu);
    auto& slot = (*channels)[address];
    if (slot == nullptr) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      slot = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    }
    channel = slot;
  }
  auto impl = std::make_unique<Impl>();
  impl->stub = v1::AdminService::NewStub(channel);
  impl->call_timeout = call_timeout;
  return std::unique_ptr<AdminProbe>(new AdminProbe(std::move(impl)));
}

AdminProbe::AdminProbe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminProbe::~AdminProbe() = default;

Status AdminProbe::CreateTopic(std::string_view name, uint32_t partitions) {
  v1::CreateTopicRequest request;
  request.set_name(std::string(name));
  request.mutable_config()->set_partitions(partitions);
  v1::TopicInfo response;
  auto context = impl_->Context();
  return rpc::FromGrpc(impl_->stub->CreateTopic(context.get(), request, &response));
}

Status AdminProbe::CreateGroup(std::string_view topic, std::string_view group,
                               const GroupConfig& config) {
  v1::CreateGroupRequest request;
  request.set_topic(std::string(topic));
  request.set_group(std::string(group));
  rpc::ToProto(config, *request.mutable_config());
  v1::GroupInfo response;
  auto context = impl_->Context();
  return rpc::FromGrpc(impl_->stub->CreateGroup(context.get(), request, &response));
}

Result<GroupLagFigures> AdminProbe::DescribeGroup(std::string_view topic, std::string_view group) {
  v1::DescribeGroupRequest request;
  request.set_topic(std::string(topic));
  request.set_group(std::string(group));
  v1::GroupInfo info;
  auto context = impl_->Context();
  if (Status s = rpc::FromGrpc(impl_->stub->DescribeGroup(context.get(), request, &info));
      !s.ok()) {
    return s;
  }
  GroupLagFigures figures;
  figures.backlog = info.total().backlog();
  figures.in_flight = info.total().in_flight();
  figures.delayed = info.total().delayed();
  figures.unsettled = info.total().unsettled();
  for (const auto& p : info.partitions()) figures.end_offsets += p.end_offset();
  figures.dlq_depth = info.dlq_depth();
  figures.members = static_cast<size_t>(info.members_size());
  return figures;
}

Result<uint64_t> AdminProbe::TopicRecords(std::string_view topic) {
  v1::DescribeTopicRequest request;
  request.set_name(std::string(topic));
  v1::TopicInfo info;
  auto context = impl_->Context();
  if (Status s = rpc::FromGrpc(impl_->stub->DescribeTopic(context.get(), request, &info));
      !s.ok()) {
    return s;
  }
  uint64_t records = 0;
  for (const auto& p : info.partitions()) records += p.records();
  return records;
}

}  // namespace broker::testing
