#include "service_harness.h"

#include <algorithm>
#include <future>
#include <optional>
#include <utility>
#include <vector>

#include "fuzz_check.h"
#include "rpc/apply_settle.h"
#include "rpc/convert.h"
#include "rpc/limits.h"
#include "rpc/status_mapping.h"

namespace broker::fuzz {
namespace {

// What subscribe_reactor.cc takes from one Poll at most.
constexpr uint32_t kMaxPollBatch = 256;

// Every status a request gets must cross the wire and come back as the same code, and bad
// requests must never look like a broken broker.
void CheckStatus(const Status& status) {
  const grpc::Status wire = rpc::ToGrpc(status);
  FUZZ_CHECK(rpc::FromGrpc(wire).code() == status.code());
  FUZZ_CHECK(status.code() != StatusCode::kInternal);
  FUZZ_CHECK(status.code() != StatusCode::kUnknown);
  FUZZ_CHECK(status.code() != StatusCode::kDataLoss);
}

template <typename T>
void CheckStatus(const Result<T>& result) {
  CheckStatus(result.status());
}

// What FromProto made of a config: a value, or for a topic config a Result (an unknown retention
// policy is refused with invalid_argument, never taken for a default).
template <typename T>
std::optional<T> Converted(T value) {
  return value;
}
template <typename T>
std::optional<T> Converted(Result<T> result) {
  if (!result.ok()) {
    FUZZ_CHECK(result.status().code() == StatusCode::kInvalidArgument);
    return std::nullopt;
  }
  return std::move(result).value();
}

// proto -> engine -> proto is a fixed point after the first conversion (defaults filled in); a
// config the first conversion refuses has nothing to round-trip.
template <typename Proto>
void CheckConfigConversion(const Proto& in) {
  auto first = Converted(rpc::FromProto(in));
  if (!first) return;
  Proto once;
  rpc::ToProto(*first, once);
  auto second = Converted(rpc::FromProto(once));
  FUZZ_CHECK(second.has_value());
  Proto twice;
  rpc::ToProto(*second, twice);
  FUZZ_CHECK(once.SerializeAsString() == twice.SerializeAsString());
}

std::string ConfigBytes(const GroupConfig& config) {
  v1::GroupConfig proto;
  rpc::ToProto(config, proto);
  return proto.SerializeAsString();
}

// The record at `partition`/`offset` of `topic`, which must exist.
Record StoredRecord(Broker& broker, const std::string& topic, PartitionId partition,
                    Offset offset) {
  auto read = broker.Read(topic, partition, offset, ReadLimits{.max_records = 1});
  FUZZ_CHECK(read.ok());
  FUZZ_CHECK(!read->records.empty());
  FUZZ_CHECK(read->records[0].offset == offset);
  FUZZ_CHECK(read->records[0].partition == partition);
  return std::move(read->records[0]);
}

void CheckRecordConversion(const Record& record) {
  v1::Record proto;
  rpc::ToProto(record, proto);
  const Record back = rpc::FromProto(proto);
  FUZZ_CHECK(back.partition == record.partition && back.offset == record.offset);
  FUZZ_CHECK(back.timestamp == record.timestamp && back.key == record.key);
  FUZZ_CHECK(back.payload == record.payload && back.headers == record.headers);
}

void CheckLag(const PartitionLag& lag) {
  FUZZ_CHECK(lag.ack_floor <= lag.end_offset);
  FUZZ_CHECK(lag.unsettled == lag.backlog + lag.in_flight + lag.delayed);
  FUZZ_CHECK(lag.unsettled <= lag.end_offset.value() - lag.ack_floor.value());
}

void CheckGroupInfo(const GroupInfo& info) {
  for (const PartitionLag& lag : info.partitions) CheckLag(lag);
  v1::GroupInfo proto;
  rpc::ToProto(info, proto);
}

}  // namespace

ServiceHarness::ServiceHarness() : clock_(std::make_shared<testing::FakeClock>()) {
  Options options;
  options.data_dir = "fuzz-broker";
  options.in_memory = true;
  options.background_work = false;  // Advance() runs the timers, so runs are deterministic
  options.clock = clock_;
  options.durability = Durability::kAsync;
  options.write_buffer_bytes = 1 << 20;
  auto opened = Broker::Open(std::move(options));
  FUZZ_CHECK(opened.ok());
  broker_ = std::move(opened).value();
}

ServiceHarness::~ServiceHarness() {
  for (Stream& stream : streams_) stream.subscription.reset();
  broker_.reset();
}

ServiceHarness& ServiceHarness::ForInput() {
  // Never destroyed at exit: RocksDB's own statics may be gone by then.
  static ServiceHarness* shared = nullptr;
  static int inputs = 0;
  if (shared == nullptr || ++inputs % kReopenEvery == 0) {
    delete shared;  // close the old broker before opening the next
    shared = new ServiceHarness();
  } else {
    shared->Reset();
  }
  return *shared;
}

void ServiceHarness::Reset() {
  for (Stream& stream : streams_) {
    stream.subscription.reset();
    stream.credits = 0;
    stream.topic.clear();
  }
  // Dead-letter writes still in flight would create their topic after the deletions below.
  CheckStatus(broker_->RunDeliveryTimers());
  auto topics = broker_->ListTopics();
  FUZZ_CHECK(topics.ok());
  for (const TopicInfo& topic : *topics) FUZZ_CHECK(broker_->DeleteTopic(topic.name).ok());
  auto left = broker_->ListTopics();
  FUZZ_CHECK(left.ok());
  FUZZ_CHECK(left->empty());
  auto groups = broker_->ListGroups("");
  FUZZ_CHECK(groups.ok());
  FUZZ_CHECK(groups->empty());
}

void ServiceHarness::Publish(const v1::PublishRequest& request) {
  std::vector<Message> messages;
  messages.reserve(static_cast<size_t>(request.messages_size()));
  for (const auto& m : request.messages()) {
    messages.push_back(rpc::FromProto(m));
    v1::OutgoingMessage back;
    rpc::ToProto(messages.back(), back);
    FUZZ_CHECK(rpc::FromProto(back).payload == messages.back().payload);
  }
  PublishOptions options;
  if (request.durability() == v1::DURABILITY_SYNC) options.durability = Durability::kSync;
  if (request.durability() == v1::DURABILITY_ASYNC) options.durability = Durability::kAsync;
  const std::vector<Message> sent = messages;
  std::promise<Result<std::vector<PublishResult>>> done;
  broker_->PublishAsync(
      request.topic(), std::move(messages), options,
      [&done](Result<std::vector<PublishResult>> result) { done.set_value(std::move(result)); });
  const Result<std::vector<PublishResult>> result = done.get_future().get();
  CheckStatus(result);
  if (result.ok()) {
    FUZZ_CHECK(result->size() == sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
      const PublishResult& position = (*result)[i];
      const Record stored =
          StoredRecord(*broker_, request.topic(), position.partition, position.offset);
      if (position.duplicate) continue;  // the position of an earlier publish of that key
      FUZZ_CHECK(stored.key == sent[i].key);
      FUZZ_CHECK(stored.payload == sent[i].payload);
      FUZZ_CHECK(stored.headers == sent[i].headers);
      CheckRecordConversion(stored);
    }
  }
  PumpAll();
}

void ServiceHarness::SendReply(const v1::SendReplyRequest& request) {
  Message reply;
  reply.payload = request.reply().payload();
  reply.headers = rpc::FromProto(request.reply().headers());
  CheckStatus(broker_->SendReply(request.inbox(), std::move(reply)));
}

void ServiceHarness::Finish(Stream& stream, const Status& status) {
  CheckStatus(status);
  stream.subscription.reset();
  stream.credits = 0;
}

// The reactor's own translation (rpc/apply_settle.h), then checks on its answer.
void ServiceHarness::ApplyAndCheckSettle(Stream& stream,
                                         const v1::SubscribeRequest::Settle& settle) {
  v1::SubscribeResponse::Settled answer;
  const Status status = rpc::ApplySettle(*broker_, stream.subscription.get(), settle, answer);
  FUZZ_CHECK(answer.request_id() == settle.request_id());
  FUZZ_CHECK((answer.code() == 0) == status.ok());
  FUZZ_CHECK(settle.has_reply() || answer.reply_code() == 0);
  if (status.ok() && settle.op() == v1::SubscribeRequest::Settle::OP_EXTEND) {
    FUZZ_CHECK(rpc::FromMicros(answer.lease_expires_us()) >= clock_->Now());
  }
  CheckStatus(status);  // a settle error is answered on the stream, which goes on
}

void ServiceHarness::StreamMessage(uint32_t index, const v1::SubscribeRequest& request) {
  using Request = v1::SubscribeRequest;
  Stream& stream = streams_[index % kStreams];
  switch (request.kind_case()) {
    case Request::kStart: {
      if (stream.subscription) {
        Finish(stream, Status::FailedPrecondition("the stream already started a subscription"));
        return;
      }
      const auto& start = request.start();
      CheckConfigConversion(start.group_config());
      if (start.max_in_flight() > rpc::kMaxInFlightPerMember) {
        Finish(stream, Status::InvalidArgument("max_in_flight over brokerd's limit"));
        return;
      }
      SubscribeOptions options;
      options.member = start.member();
      if (start.max_in_flight() != 0) options.max_in_flight = start.max_in_flight();
      options.group = rpc::FromProto(start.group_config());
      auto subscribed = broker_->Subscribe(start.topic(), start.group(), options);
      if (!subscribed.ok()) {
        Finish(stream, subscribed.status());
        return;
      }
      stream.topic = start.topic();
      stream.subscription = std::move(subscribed).value();
      FUZZ_CHECK(!stream.subscription->member().empty());
      break;
    }
    case Request::kCredit:
      if (!ApplyCredit(stream, request.credit())) return;
      break;
    case Request::kSettle:
      ApplyAndCheckSettle(stream, request.settle());
      break;
    case Request::kSettleBatch:
      for (const auto& settle : request.settle_batch().settles())
        ApplyAndCheckSettle(stream, settle);
      // The credit a batch may carry applies after its settles, as a Credit frame would.
      if (request.settle_batch().has_credit() &&
          !ApplyCredit(stream, request.settle_batch().credit())) {
        return;
      }
      break;
    case Request::KIND_NOT_SET:
      Finish(stream,
             Status::InvalidArgument("empty SubscribeRequest: set start, credit or settle"));
      return;
  }
  PumpAll();
}

bool ServiceHarness::ApplyCredit(Stream& stream, const v1::SubscribeRequest::Credit& credit) {
  if (!stream.subscription) {
    Finish(stream, Status::FailedPrecondition("send 'start' before credits"));
    return false;
  }
  if (credit.replace()) {
    stream.credits = credit.messages();
  } else {
    stream.credits += credit.messages();
  }
  stream.credits = std::min(stream.credits, rpc::kMaxCreditPerMember);
  return true;
}

void ServiceHarness::CloseStream(uint32_t index) {
  Stream& stream = streams_[index % kStreams];
  stream.subscription.reset();
  stream.credits = 0;
  PumpAll();
}

void ServiceHarness::PumpAll() {
  for (Stream& stream : streams_) Pump(stream);
}

void ServiceHarness::Pump(Stream& stream) {
  FUZZ_CHECK(stream.credits <= rpc::kMaxCreditPerMember);
  while (stream.subscription && stream.credits > 0) {
    const uint32_t want = static_cast<uint32_t>(std::min<uint64_t>(stream.credits, kMaxPollBatch));
    auto polled = stream.subscription->Poll(want, std::chrono::milliseconds(0));
    if (!polled.ok()) {
      Finish(stream, polled.status());
      return;
    }
    FUZZ_CHECK(polled->size() <= want);
    for (const Delivery& d : *polled) {
      FUZZ_CHECK(d.attempt >= 1);
      FUZZ_CHECK(d.lease_expires_at > clock_->Now());
      const Record stored =
          StoredRecord(*broker_, stream.topic, d.record.partition, d.record.offset);
      FUZZ_CHECK(stored.payload == d.record.payload && stored.key == d.record.key);
      FUZZ_CHECK(stored.headers == d.record.headers);
      v1::SubscribeResponse response;
      rpc::ToProto(d.record, *response.mutable_delivery()->mutable_record());
      response.mutable_delivery()->set_lease_expires_us(rpc::Micros(d.lease_expires_at));
    }
    stream.credits -= polled->size();
    if (polled->size() < want) return;
  }
}

void ServiceHarness::CreateTopic(const v1::CreateTopicRequest& request) {
  CheckConfigConversion(request.config());
  auto converted = rpc::FromProto(request.config());
  if (!converted.ok()) return;  // brokerd answers invalid_argument and creates nothing
  const TopicConfig config = std::move(converted).value();
  const Status created = broker_->CreateTopic(request.name(), config);
  CheckStatus(created);
  if (!created.ok()) return;
  auto info = broker_->DescribeTopic(request.name());
  FUZZ_CHECK(info.ok());
  FUZZ_CHECK(info->partitions.size() == config.partitions);
  FUZZ_CHECK(info->config.retention_age == config.retention_age);
  FUZZ_CHECK(info->config.retention_bytes == config.retention_bytes);
  v1::TopicInfo proto;
  rpc::ToProto(*info, proto);
}

void ServiceHarness::DeleteTopic(const v1::DeleteTopicRequest& request) {
  CheckStatus(broker_->DeleteTopic(request.name()));
  PumpAll();
}

void ServiceHarness::CreateGroup(const v1::CreateGroupRequest& request) {
  CheckConfigConversion(request.config());
  const GroupConfig config = rpc::FromProto(request.config());
  const Status created = broker_->CreateGroup(request.topic(), request.group(), config);
  CheckStatus(created);
  if (!created.ok()) return;
  auto info = broker_->DescribeGroup(request.topic(), request.group());
  FUZZ_CHECK(info.ok());
  FUZZ_CHECK(ConfigBytes(info->config) == ConfigBytes(config));
  CheckGroupInfo(*info);
}

void ServiceHarness::DeleteGroup(const v1::DeleteGroupRequest& request) {
  CheckStatus(broker_->DeleteGroup(request.topic(), request.group()));
}

void ServiceHarness::DescribeGroup(const v1::DescribeGroupRequest& request) {
  auto info = broker_->DescribeGroup(request.topic(), request.group());
  CheckStatus(info);
  if (info.ok()) CheckGroupInfo(*info);
}

void ServiceHarness::ResetGroup(const v1::ResetGroupRequest& request) {
  ResetPosition position;
  switch (request.to_case()) {
    case v1::ResetGroupRequest::kEarliest:
      position.kind = ResetPosition::Kind::kEarliest;
      break;
    case v1::ResetGroupRequest::kLatest:
      position.kind = ResetPosition::Kind::kLatest;
      break;
    case v1::ResetGroupRequest::kOffset:
      position.kind = ResetPosition::Kind::kOffset;
      position.offset = request.offset();
      break;
    case v1::ResetGroupRequest::kTimeUs:
      position.kind = ResetPosition::Kind::kTime;
      position.time = rpc::FromMicros(request.time_us());
      break;
    case v1::ResetGroupRequest::TO_NOT_SET:
      return;  // answered with invalid_argument before the engine is called
  }
  auto info = broker_->ResetGroup(request.topic(), request.group(), position);
  CheckStatus(info);
  if (info.ok()) CheckGroupInfo(*info);
  PumpAll();
}

void ServiceHarness::GetMessage(const v1::GetMessageRequest& request) {
  const PartitionId partition(request.partition());
  const Offset offset(request.offset());
  auto read = broker_->Read(request.topic(), partition, offset, ReadLimits{.max_records = 1});
  CheckStatus(read);
  if (!read.ok() || read->records.empty() || read->records[0].offset != offset) return;
  CheckRecordConversion(read->records[0]);
  auto states = broker_->GetMessageState(request.topic(), partition, offset);
  CheckStatus(states);
  if (!states.ok()) return;
  v1::GetMessageResponse response;
  for (const MessageGroupState& s : *states) rpc::ToProto(s, *response.add_groups());
}

void ServiceHarness::Read(const v1::ReadRequest& request) {
  ReadLimits limits;
  limits.max_records =
      request.max_records() == 0 ? 100 : std::min<uint32_t>(request.max_records(), 10000);
  auto read = broker_->Read(request.topic(), PartitionId(request.partition()),
                            Offset(request.from_offset()), limits);
  CheckStatus(read);
  if (!read.ok()) return;
  FUZZ_CHECK(read->records.size() <= limits.max_records);
  FUZZ_CHECK(read->first_offset <= read->end_offset);
  Offset previous(0);
  for (size_t i = 0; i < read->records.size(); ++i) {
    const Record& r = read->records[i];
    FUZZ_CHECK(r.offset >= read->first_offset && r.offset < read->end_offset);
    if (i > 0) FUZZ_CHECK(r.offset.value() == previous.value() + 1);  // dense
    previous = r.offset;
    CheckRecordConversion(r);
  }
}

void ServiceHarness::ListDeadLetters(const v1::ListDeadLettersRequest& request) {
  auto from = rpc::DecodeDeadLettersPageToken(request.page_token());
  CheckStatus(from);
  if (!from.ok()) return;
  const uint32_t page = rpc::DeadLettersPageSize(request.limit());
  FUZZ_CHECK(page >= 1 && page <= rpc::kMaxDeadLettersPage);
  auto letters = broker_->ListDeadLettersFrom(request.topic(), request.group(), *from, page + 1);
  CheckStatus(letters);
  if (!letters.ok()) return;
  FUZZ_CHECK(letters->size() <= page + 1);
  v1::ListDeadLettersResponse response;
  for (size_t i = 0; i < letters->size() && i < page; ++i) {
    const DeadLetter& d = (*letters)[i];
    FUZZ_CHECK(d.record.offset >= *from);  // a page starts where its token says
    // Every nack text and reject reason went through ApplySettle's cap.
    FUZZ_CHECK(d.last_error.size() <= kMaxSettleTextBytes);
    rpc::ToProto(d, *response.add_dead_letters());
  }
  if (letters->size() > page) {
    const Offset next = letters->at(page - 1).record.offset + 1;
    auto decoded = rpc::DecodeDeadLettersPageToken(rpc::EncodeDeadLettersPageToken(next));
    FUZZ_CHECK(decoded.ok() && *decoded == next);  // the token round-trips
  }
}

void ServiceHarness::Redrive(const v1::RedriveRequest& request) {
  RedriveOptions options;
  options.filter = rpc::FromProto(request.filter());
  options.dry_run = request.dry_run();
  options.rate_per_second = request.rate_per_second();
  auto result = broker_->Redrive(request.topic(), request.group(), options);
  CheckStatus(result);
  if (result.ok()) {
    FUZZ_CHECK(result->redriven + result->missing <= result->matched);
    if (options.dry_run) FUZZ_CHECK(result->redriven == 0);
  }
  PumpAll();
}

void ServiceHarness::PurgeDeadLetters(const v1::PurgeDeadLettersRequest& request) {
  CheckStatus(broker_->PurgeDeadLetters(request.topic(), request.group(),
                                        rpc::FromProto(request.filter())));
}

void ServiceHarness::Advance(std::chrono::milliseconds by) {
  clock_->Advance(by);
  CheckStatus(broker_->RunDeliveryTimers());
  CheckStatus(broker_->RunRetention());
  PumpAll();
}

}  // namespace broker::fuzz
