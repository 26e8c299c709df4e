// ServiceHarness: brokerd's request handling without gRPC or a network. It takes decoded
// broker.v1 requests through the same conversions (rpc/convert.h, rpc/status_mapping.h) and the
// same engine calls as broker/rpc's services, on an in-memory broker with a fake clock, and checks
// properties of the answers (FUZZ_CHECK aborts on a violation).
//
// It mirrors, and must be kept in step with:
//   BrokerServiceImpl::Publish and SendReply            (broker/rpc/broker_service.cc)
//   Session::Handle and Session::Pump of Subscribe      (broker/rpc/subscribe_reactor.cc)
//   the AdminServiceImpl calls                          (broker/rpc/admin_service.cc)
// The reactors' gRPC plumbing (strands, write queues, auth) is left out; a stream's messages are
// handled in order and deliveries are pumped after every call, so a run is deterministic.
//
// Properties checked:
//   - every status maps to a gRPC status and back to the same code; requests never produce
//     internal, unknown or data_loss errors;
//   - every published message reads back with its key, payload and headers; positions match the
//     request one to one;
//   - deliveries carry attempt >= 1 and the bytes stored at their position;
//   - configs survive proto -> engine -> proto -> engine unchanged after the first conversion, and
//     a created group reports the config it was created with;
//   - lag figures: ack_floor <= end_offset and unsettled <= end_offset - ack_floor;
//   - the boundary's caps (rpc/limits.h): a stream's credit never exceeds kMaxCreditPerMember,
//     max_in_flight over its limit ends the stream, a dead letter's last_error fits
//     kMaxSettleTextBytes, a ListDeadLetters page fits its size and starts at its page token, and
//     page tokens round-trip.
//
// Opening a RocksDB instance costs far more than a typical input, so the fuzzers share one harness
// across inputs (ForInput): between inputs every stream is closed and every topic deleted, which
// leaves nothing an input can see (a deleted topic's name comes back under a new id with offsets
// from 0), and every kReopenEvery inputs the broker is opened afresh. A crash artifact therefore
// reproduces on its own.
//
// Thread safety: single-threaded.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "broker/testing/fake_clock.h"
#include "broker/v1/admin.pb.h"
#include "broker/v1/broker.pb.h"

namespace broker::fuzz {

class ServiceHarness {
 public:
  // Opens a fresh in-memory broker; aborts if it cannot.
  ServiceHarness();
  ~ServiceHarness();
  ServiceHarness(const ServiceHarness&) = delete;
  ServiceHarness& operator=(const ServiceHarness&) = delete;

  // The harness for the next fuzz input: the shared one, reset, or a new one.
  static ServiceHarness& ForInput();
  static constexpr int kReopenEvery = 1000;

  // Closes every stream and deletes every topic (with its groups).
  void Reset();

  // BrokerService
  void Publish(const v1::PublishRequest& request);
  void SendReply(const v1::SendReplyRequest& request);
  // One message on Subscribe stream `stream` (taken modulo kStreams).
  void StreamMessage(uint32_t stream, const v1::SubscribeRequest& request);
  // The client closes the stream: the member leaves its group.
  void CloseStream(uint32_t stream);

  // AdminService
  void CreateTopic(const v1::CreateTopicRequest& request);
  void DeleteTopic(const v1::DeleteTopicRequest& request);
  void CreateGroup(const v1::CreateGroupRequest& request);
  void DeleteGroup(const v1::DeleteGroupRequest& request);
  void DescribeGroup(const v1::DescribeGroupRequest& request);
  void ResetGroup(const v1::ResetGroupRequest& request);
  void GetMessage(const v1::GetMessageRequest& request);
  void Read(const v1::ReadRequest& request);
  void ListDeadLetters(const v1::ListDeadLettersRequest& request);
  void Redrive(const v1::RedriveRequest& request);
  void PurgeDeadLetters(const v1::PurgeDeadLettersRequest& request);

  // Moves the fake clock and runs what the broker's background thread would.
  void Advance(std::chrono::milliseconds by);

  static constexpr size_t kStreams = 4;

 private:
  struct Stream {
    std::string topic;
    std::unique_ptr<Subscription> subscription;
    uint64_t credits = 0;
  };
  // Ends the stream's call with `status` (as FinishCall does): the subscription is dropped.
  void Finish(Stream& stream, const Status& status);
  void ApplyAndCheckSettle(Stream& stream, const v1::SubscribeRequest::Settle& settle);
  // A Credit frame's, or one a SettleBatch carries; false (and the stream finished) before Start.
  bool ApplyCredit(Stream& stream, const v1::SubscribeRequest::Credit& credit);
  // Session::Pump for every stream with credits.
  void PumpAll();
  void Pump(Stream& stream);

  std::shared_ptr<testing::FakeClock> clock_;
  std::unique_ptr<Broker> broker_;
  std::array<Stream, kStreams> streams_;
};

}  // namespace broker::fuzz
