#include "rpc/admin_service.h"

#include <algorithm>

#include "rpc/convert.h"
#include "rpc/limits.h"
#include "rpc/status_mapping.h"

namespace broker::rpc {

AdminServiceImpl::AdminServiceImpl(Broker& broker, Executor& executor, const Authorizer& auth,
                                   std::string data_dir)
    : broker_(broker), executor_(executor), auth_(auth), data_dir_(std::move(data_dir)) {}

template <typename Work>
grpc::ServerUnaryReactor* AdminServiceImpl::Run(grpc::CallbackServerContext* context, Right right,
                                                const std::string& topic, Work work) {
  auto* reactor = context->DefaultReactor();
  if (Status s = auth_.Check(*context, right, topic); !s.ok()) {
    reactor->Finish(ToGrpc(s));
    return reactor;
  }
  executor_.Post([reactor, work = std::move(work)]() mutable { reactor->Finish(ToGrpc(work())); });
  return reactor;
}

template <typename Work>
grpc::ServerUnaryReactor* AdminServiceImpl::RunScoped(grpc::CallbackServerContext* context,
                                                      Right right, Work work) {
  auto* reactor = context->DefaultReactor();
  auto scope = auth_.Scope(*context, right);
  if (!scope.ok()) {
    reactor->Finish(ToGrpc(scope.status()));
    return reactor;
  }
  executor_.Post([reactor, scope = std::move(scope).value(), work = std::move(work)]() mutable {
    reactor->Finish(ToGrpc(work(scope)));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateTopic(grpc::CallbackServerContext* c,
                                                        const v1::CreateTopicRequest* req,
                                                        v1::TopicInfo* resp) {
  return Run(c, Right::kAdmin, req->name(), [this, req, resp]() -> Status {
    auto config = FromProto(req->config());
    if (!config.ok()) return config.status();
    if (Status s = broker_.CreateTopic(req->name(), *config); !s.ok()) return s;
    auto info = broker_.DescribeTopic(req->name());
    if (!info.ok()) return info.status();
    ToProto(*info, *resp);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListTopics(grpc::CallbackServerContext* c,
                                                       const v1::ListTopicsRequest*,
                                                       v1::ListTopicsResponse* resp) {
  // A token limited to topic prefixes sees only its topics.
  return RunScoped(c, Right::kAdmin, [this, resp](const TopicScope& scope) -> Status {
    auto topics = broker_.ListTopics();
    if (!topics.ok()) return topics.status();
    for (const TopicInfo& t : *topics) {
      if (scope.Allows(t.name)) ToProto(t, *resp->add_topics());
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DescribeTopic(grpc::CallbackServerContext* c,
                                                          const v1::DescribeTopicRequest* req,
                                                          v1::TopicInfo* resp) {
  return Run(c, Right::kAdmin, req->name(), [this, req, resp]() -> Status {
    auto info = broker_.DescribeTopic(req->name());
    if (!info.ok()) return info.status();
    ToProto(*info, *resp);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteTopic(grpc::CallbackServerContext* c,
                                                        const v1::DeleteTopicRequest* req,
                                                        v1::DeleteTopicResponse*) {
  return Run(c, Right::kAdmin, req->name(), [this, req] { return broker_.DeleteTopic(req->name()); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateGroup(grpc::CallbackServerContext* c,
                                                        const v1::CreateGroupRequest* req,
                                                        v1::GroupInfo* resp) {
  return Run(c, Right::kAdmin, req->topic(), [this, req, resp]() -> Status {
    Status s = broker_.CreateGroup(req->topic(), req->group(), FromProto(req->config()));
    if (!s.ok()) return s;
    auto info = broker_.DescribeGroup(req->topic(), req->group());
    if (!info.ok()) return info.status();
    ToProto(*info, *resp);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListGroups(grpc::CallbackServerContext* c,
                                                       const v1::ListGroupsRequest* req,
                                                       v1::ListGroupsResponse* resp) {
  auto list = [this, req, resp](const TopicScope& scope) -> Status {
    auto groups = broker_.ListGroups(req->topic());
    if (!groups.ok()) return groups.status();
    for (const GroupInfo& g : *groups) {
      if (scope.Allows(g.topic)) ToProto(g, *resp->add_groups());
    }
    return Status::Ok();
  };
  // One topic: checked as any call on it. Every topic (""): only the groups of the topics the
  // caller may see.
  if (!req->topic().empty()) {
    return Run(c, Right::kAdmin, req->topic(), [list] { return list(TopicScope{}); });
  }
  return RunScoped(c, Right::kAdmin, list);
}

grpc::ServerUnaryReactor* AdminServiceImpl::DescribeGroup(grpc::CallbackServerContext* c,
                                                          const v1::DescribeGroupRequest* req,
                                                          v1::GroupInfo* resp) {
  return Run(c, Right::kAdmin, req->topic(), [this, req, resp]() -> Status {
    auto info = broker_.DescribeGroup(req->topic(), req->group());
    if (!info.ok()) return info.status();
    ToProto(*info, *resp);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteGroup(grpc::CallbackServerContext* c,
                                                        const v1::DeleteGroupRequest* req,
                                                        v1::DeleteGroupResponse*) {
  return Run(c, Right::kAdmin, req->topic(),
             [this, req] { return broker_.DeleteGroup(req->topic(), req->group()); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ResetGroup(grpc::CallbackServerContext* c,
                                                       const v1::ResetGroupRequest* req,
                                                       v1::GroupInfo* resp) {
  return Run(c, Right::kAdmin, req->topic(), [this, req, resp]() -> Status {
    ResetPosition position;
    switch (req->to_case()) {
      case v1::ResetGroupRequest::kEarliest:
        position.kind = ResetPosition::Kind::kEarliest;
        break;
      case v1::ResetGroupRequest::kLatest:
        position.kind = ResetPosition::Kind::kLatest;
        break;
      case v1::ResetGroupRequest::kOffset:
        position.kind = ResetPosition::Kind::kOffset;
        position.offset = req->offset();
        break;
      case v1::ResetGroupRequest::kTimeUs:
        position.kind = ResetPosition::Kind::kTime;
        position.time = FromMicros(req->time_us());
        break;
      case v1::ResetGroupRequest::TO_NOT_SET:
        return Status::InvalidArgument("say where to reset to: earliest, latest, offset or time");
    }
    auto info = broker_.ResetGroup(req->topic(), req->group(), position);
    if (!info.ok()) return info.status();
    ToProto(*info, *resp);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetMessage(grpc::CallbackServerContext* c,
                                                       const v1::GetMessageRequest* req,
                                                       v1::GetMessageResponse* resp) {
  return Run(c, Right::kAdmin, req->topic(), [this, req, resp]() -> Status {
    const PartitionId partition(req->partition());
    const Offset offset(req->offset());
    auto read = broker_.Read(req->topic(), partition, offset, ReadLimits{.max_records = 1});
    if (!read.ok()) return read.status();
    if (read->records.empty() || read->records[0].offset != offset) {
      return Status::NotFound("no record at partition " + std::to_string(partition.value()) +
                              " offset " + std::to_string(offset.value()) + " of '" +
                              req->topic() + "' (retained offsets " +
                              std::to_string(read->first_offset.value()) + " to " +
                              std::to_string(read->end_offset.value()) + ")");
    }
    ToProto(read->records[0], *resp->mutable_record());
    auto states = broker_.GetMessageState(req->topic(), partition, offset);
    if (!states.ok()) return states.status();
    for (const MessageGroupState& s : *states) ToProto(s, *resp->add_groups());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Read(grpc::CallbackServerContext* c,
                                                 const v1::ReadRequest* req, v1::ReadResponse* resp) {
  return Run(c, Right::kConsume, req->topic(), [this, req, resp]() -> Status {
    ReadLimits limits;
    limits.max_records = req->max_records() == 0 ? 100 : std::min<uint32_t>(req->max_records(), 10000);
    auto read = broker_.Read(req->topic(), PartitionId(req->partition()), Offset(req->from_offset()),
                             limits);
    if (!read.ok()) return read.status();
    for (const Record& r : read->records) ToProto(r, *resp->add_records());
    resp->set_first_offset(read->first_offset.value());
    resp->set_end_offset(read->end_offset.value());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListDeadLetters(grpc::CallbackServerContext* c,
                                                            const v1::ListDeadLettersRequest* req,
                                                            v1::ListDeadLettersResponse* resp) {
  return Run(c, Right::kAdmin, req->topic(), [this, req, resp]() -> Status {
    auto from = DecodeDeadLettersPageToken(req->page_token());
    if (!from.ok()) return from.status();
    const uint32_t page = DeadLettersPageSize(req->limit());
    // One more than the page: whether it exists says if there is a next page.
    auto letters = broker_.ListDeadLettersFrom(req->topic(), req->group(), *from, page + 1);
    if (!letters.ok()) return letters.status();
    if (letters->size() > page) {
      letters->resize(page);
      resp->set_next_page_token(
          EncodeDeadLettersPageToken(Offset(letters->back().record.offset.value() + 1)));
    }
    for (const DeadLetter& d : *letters) ToProto(d, *resp->add_dead_letters());
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Redrive(grpc::CallbackServerContext* c,
                                                    const v1::RedriveRequest* req,
                                                    v1::RedriveResponse* resp) {
  return Run(c, Right::kAdmin, req->topic(), [this, req, resp]() -> Status {
    RedriveOptions options;
    options.filter = FromProto(req->filter());
    options.dry_run = req->dry_run();
    options.rate_per_second = req->rate_per_second();
    auto result = broker_.Redrive(req->topic(), req->group(), options);
    if (!result.ok()) return result.status();
    resp->set_matched(result->matched);
    resp->set_redriven(result->redriven);
    resp->set_missing(result->missing);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::PurgeDeadLetters(grpc::CallbackServerContext* c,
                                                             const v1::PurgeDeadLettersRequest* req,
                                                             v1::PurgeDeadLettersResponse* resp) {
  return Run(c, Right::kAdmin, req->topic(), [this, req, resp]() -> Status {
    auto purged = broker_.PurgeDeadLetters(req->topic(), req->group(), FromProto(req->filter()));
    if (!purged.ok()) return purged.status();
    resp->set_purged(*purged);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetStats(grpc::CallbackServerContext* c,
                                                     const v1::GetStatsRequest*, v1::Stats* resp) {
  return Run(c, Right::kAdmin, "", [this, resp]() -> Status {
    const WriteStats w = broker_.GetWriteStats();
    resp->set_commits(w.commits);
    resp->set_synced_commits(w.synced_commits);
    resp->set_messages(w.messages);
    resp->set_synced_messages(w.synced_messages);
    resp->set_publish_calls(w.publish_calls);
    resp->set_duplicates(w.duplicates);
    auto topics = broker_.ListTopics();
    if (topics.ok()) resp->set_topics(topics->size());
    auto groups = broker_.ListGroups("");
    if (groups.ok()) resp->set_groups(groups->size());
    resp->set_uptime_s(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::steady_clock::now() - started_)
                           .count());
    resp->set_version(BROKER_VERSION);
    resp->set_data_dir(data_dir_);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Backup(grpc::CallbackServerContext* c,
                                                   const v1::BackupRequest* req,
                                                   v1::BackupResponse* resp) {
  // On the executor: a checkpoint flushes memtables and may copy files.
  return Run(c, Right::kAdmin, "", [this, req, resp]() -> Status {
    const auto started = std::chrono::steady_clock::now();
    auto bytes = broker_.Checkpoint(req->dir());
    if (!bytes.ok()) return bytes.status();
    resp->set_dir(req->dir());
    resp->set_bytes(*bytes);
    resp->set_duration_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count());
    return Status::Ok();
  });
}

}  // namespace broker::rpc
