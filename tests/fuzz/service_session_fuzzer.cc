// Fuzz target: the request handling of brokerd's BrokerService and AdminService, driven by a
// sequence of decoded broker.v1 requests (service_session.proto: publishes, Subscribe stream
// messages with start/credit/settle, admin calls, and the passing of time) on an in-memory broker
// cleared between inputs. The properties checked are listed in service_harness.h.
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "service_harness.h"
#include "service_session.pb.h"

namespace broker::fuzz {
namespace {

// Upper bound of one Call's clock step, so a session stays within plausible time (an hour).
constexpr uint32_t kMaxAdvanceMs = 3'600'000;

void Run(ServiceHarness& service, const Call& call) {
  switch (call.call_case()) {
    case Call::kPublish:
      service.Publish(call.publish());
      break;
    case Call::kSubscribe:
      service.StreamMessage(call.subscribe().stream(), call.subscribe().request());
      break;
    case Call::kCloseStream:
      service.CloseStream(call.close_stream().stream());
      break;
    case Call::kCreateTopic:
      service.CreateTopic(call.create_topic());
      break;
    case Call::kDeleteTopic:
      service.DeleteTopic(call.delete_topic());
      break;
    case Call::kCreateGroup:
      service.CreateGroup(call.create_group());
      break;
    case Call::kDeleteGroup:
      service.DeleteGroup(call.delete_group());
      break;
    case Call::kResetGroup:
      service.ResetGroup(call.reset_group());
      break;
    case Call::kGetMessage:
      service.GetMessage(call.get_message());
      break;
    case Call::kRead:
      service.Read(call.read());
      break;
    case Call::kListDeadLetters:
      service.ListDeadLetters(call.list_dead_letters());
      break;
    case Call::kRedrive:
      service.Redrive(call.redrive());
      break;
    case Call::kPurgeDeadLetters:
      service.PurgeDeadLetters(call.purge_dead_letters());
      break;
    case Call::kDescribeGroup:
      service.DescribeGroup(call.describe_group());
      break;
    case Call::kSendReply:
      service.SendReply(call.send_reply());
      break;
    case Call::kAdvanceMs:
      service.Advance(std::chrono::milliseconds(call.advance_ms() % (kMaxAdvanceMs + 1)));
      break;
    case Call::CALL_NOT_SET:
      break;
  }
}

}  // namespace
}  // namespace broker::fuzz

// Strings with invalid UTF-8 fail to parse, as they would in gRPC; protobuf need not log each one.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  broker::fuzz::Session session;
  if (!session.ParseFromArray(data, static_cast<int>(size))) return -1;  // not kept in the corpus
  broker::fuzz::ServiceHarness& service = broker::fuzz::ServiceHarness::ForInput();
  for (const broker::fuzz::Call& call : session.calls()) broker::fuzz::Run(service, call);
  return 0;
}
