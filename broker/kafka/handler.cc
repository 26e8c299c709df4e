#include "kafka/handler.h"

namespace broker::kafka {

RequestHandler::RequestHandler(Broker& broker, HandlerConfig config)
    : broker_(broker),
      config_(std::move(config)),
      coordinator_(config_.clock, config_.coordinator),
      offsets_(broker),
      sequences_(config_.clock, config_.producer_sequences) {}

void RequestHandler::Handle(std::string frame, Done done) {
  Reader in(frame);
  RequestHeader header;
  if (!DecodeRequestHeader(in, header)) return done(Reply{});
  const ApiRange* api = FindApi(header.api_key);
  if (api == nullptr) return done(Reply{});
  if (header.api_version < api->min_version || header.api_version > api->max_version) {
    if (api->key != ApiKey::kApiVersions) return done(Reply{});
    return done(
        {Reply::Kind::kRespond, EncodeApiVersionsResponse(header.correlation_id, 0,
                                                          Wire(ErrorCode::kUnsupportedVersion))});
  }
  switch (api->key) {
    case ApiKey::kApiVersions:
      return done(ApiVersions(header, in));
    case ApiKey::kMetadata:
      return done(Metadata(header, in));
    case ApiKey::kCreateTopics:
      return done(CreateTopics(header, in));
    case ApiKey::kListOffsets:
      return done(ListOffsets(header, in));
    case ApiKey::kFetch:
      return done(Fetch(header, in));
    case ApiKey::kProduce:
      return Produce(header, in, std::move(done));
    case ApiKey::kFindCoordinator:
      return done(FindCoordinator(header, in));
    case ApiKey::kJoinGroup:
      return JoinGroup(header, in, std::move(done));
    case ApiKey::kSyncGroup:
      return SyncGroup(header, in, std::move(done));
    case ApiKey::kHeartbeat:
      return done(Heartbeat(header, in));
    case ApiKey::kLeaveGroup:
      return done(LeaveGroup(header, in));
    case ApiKey::kOffsetCommit:
      return done(OffsetCommit(header, in));
    case ApiKey::kOffsetFetch:
      return done(OffsetFetch(header, in));
    case ApiKey::kDescribeGroups:
      return done(DescribeGroups(header, in));
    case ApiKey::kInitProducerId:
      return done(InitProducerId(header, in));
  }
  done(Reply{});
}

Reply RequestHandler::ApiVersions(const RequestHeader& header, Reader& in) {
  if (!DecodeApiVersionsRequest(in, header.api_version)) return Reply{};
  return {Reply::Kind::kRespond,
          EncodeApiVersionsResponse(header.correlation_id, header.api_version, 0)};
}

}  // namespace broker::kafka
