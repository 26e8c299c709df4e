// Replies cannot be spoofed (broker/rpc/pending_requests.h): inbox addresses are 128 random bits,
// and brokerd accepts a reply only for a request sent from that inbox, from a consumer of the
// request's topic (on a Subscribe stream: a subscription to that topic). Raw streams, so the test
// controls every header and frame.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <regex>
#include <string>

#include "broker/v1/broker.grpc.pb.h"
#include "brokerd_fixture.h"
#include "raw_grpc.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

class ReplyTest : public BrokerdTest {
 protected:
  void Start(std::vector<std::string> args = {}) {
    StartBrokerd(std::move(args));
    stub_ = v1::BrokerService::NewStub(
        grpc::CreateChannel(brokerd_->address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + 30s);
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  // A Subscribe stream joined to `topic` (group "svc"), so requests to it have a responder.
  struct Member {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>> stream;
  };
  Member Join(const std::string& topic, const std::string& token = "") {
    Member m{Context(token), nullptr};
    m.stream = stub_->Subscribe(m.context.get());
    EXPECT_TRUE(m.stream->Write(StartFrame(topic, "svc")));
    v1::SubscribeResponse started;
    EXPECT_TRUE(m.stream->Read(&started) && started.has_started());
    EXPECT_TRUE(m.stream->Write(CreditFrame(100)));
    return m;
  }
  // The next delivery on `m`'s stream.
  v1::Record NextDelivery(Member& m) {
    v1::SubscribeResponse response;
    while (m.stream->Read(&response)) {
      if (response.has_delivery_batch() && response.delivery_batch().deliveries_size() > 0) {
        return response.delivery_batch().deliveries(0).record();
      }
    }
    ADD_FAILURE() << "the stream ended without a delivery";
    return {};
  }

  struct Requester {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::InboxCommand, v1::InboxEvent>> stream;
    std::string address;
  };
  Requester OpenInbox(const std::string& token = "") {
    Requester r{Context(token), nullptr, ""};
    r.stream = stub_->OpenInbox(r.context.get());
    v1::InboxEvent event;
    EXPECT_TRUE(r.stream->Read(&event));
    r.address = event.address();
    return r;
  }
  void SendRequest(Requester& r, const std::string& topic, const std::string& correlation_id) {
    v1::InboxCommand command;
    auto* request = command.mutable_request();
    request->set_topic(topic);
    request->set_correlation_id(correlation_id);
    request->mutable_message()->set_payload("quote?");
    auto add = [&](const std::string& name, const std::string& value) {
      auto* h = request->mutable_message()->add_headers();
      h->set_name(name);
      h->set_value(value);
    };
    add("reply_to", r.address);
    add("correlation_id", correlation_id);
    ASSERT_TRUE(r.stream->Write(command));
  }
  static v1::SendReplyRequest Reply(const std::string& inbox, const std::string& correlation_id,
                                    const std::string& payload) {
    v1::SendReplyRequest reply;
    reply.set_inbox(inbox);
    reply.mutable_reply()->set_payload(payload);
    if (!correlation_id.empty()) {
      auto* h = reply.mutable_reply()->add_headers();
      h->set_name("correlation_id");
      h->set_value(correlation_id);
    }
    return reply;
  }
  grpc::Status SendReply(const v1::SendReplyRequest& reply, const std::string& token = "") {
    v1::SendReplyResponse response;
    return stub_->SendReply(Context(token).get(), reply, &response);
  }
  // The payload of the next reply `r` receives.
  static std::string NextReply(Requester& r) {
    v1::InboxEvent event;
    while (r.stream->Read(&event)) {
      if (event.has_reply()) return event.reply().payload();
      if (event.has_request_failed()) return "request_failed: " + event.request_failed().message();
    }
    return "(inbox stream ended)";
  }

  std::unique_ptr<v1::BrokerService::Stub> stub_;
};

TEST_F(ReplyTest, InboxAddressesAre128RandomBits) {
  Start();
  Requester a = OpenInbox();
  Requester b = OpenInbox();
  const std::regex format("_inbox\\.[0-9a-f]{32}");
  EXPECT_TRUE(std::regex_match(a.address, format)) << a.address;
  EXPECT_TRUE(std::regex_match(b.address, format)) << b.address;
  EXPECT_NE(a.address, b.address);
  a.context->TryCancel();
  b.context->TryCancel();
}

TEST_F(ReplyTest, ReplyToNoPendingRequestIsPermissionDeniedAndNeverArrives) {
  Start();
  Member responder = Join("quotes");
  Requester requester = OpenInbox();
  SendRequest(requester, "quotes", "c1");
  const v1::Record request = NextDelivery(responder);
  ASSERT_EQ(request.payload(), "quote?");

  grpc::Status spoofed = SendReply(Reply(requester.address, "c2", "spoofed"));
  EXPECT_EQ(spoofed.error_code(), grpc::StatusCode::PERMISSION_DENIED) << spoofed.error_message();
  EXPECT_NE(spoofed.error_message().find("no request with correlation_id 'c2'"), std::string::npos)
      << spoofed.error_message();
  grpc::Status anonymous = SendReply(Reply(requester.address, "", "no id"));
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << anonymous.error_message();
  grpc::Status guessed = SendReply(Reply("_inbox.1.1", "c1", "guessed"));
  EXPECT_EQ(guessed.error_code(), grpc::StatusCode::NOT_FOUND) << guessed.error_message();

  // A reply carried by an ack on a subscription to another topic is refused too; the ack stands.
  Member other = Join("other");
  {
    auto publish = Context();
    v1::PublishRequest p;
    p.set_topic("other");
    p.add_messages()->set_payload("x");
    v1::PublishResponse published;
    ASSERT_TRUE(stub_->Publish(publish.get(), p, &published).ok());
  }
  const v1::Record unrelated = NextDelivery(other);
  v1::SubscribeRequest ack;
  ack.mutable_settle()->set_op(v1::SubscribeRequest::Settle::OP_ACK);
  ack.mutable_settle()->mutable_ref()->set_partition(unrelated.partition());
  ack.mutable_settle()->mutable_ref()->set_offset(unrelated.offset());
  *ack.mutable_settle()->mutable_reply() = Reply(requester.address, "c1", "from another topic");
  ASSERT_TRUE(other.stream->Write(ack));
  v1::SubscribeResponse settled;
  while (other.stream->Read(&settled) && !settled.has_settled()) {
  }
  EXPECT_EQ(settled.settled().code(), 0) << "the ack itself succeeds";
  EXPECT_EQ(settled.settled().reply_code(), grpc::StatusCode::PERMISSION_DENIED)
      << settled.settled().reply_message();

  // The real responder's reply, carried by its ack, is the first and only reply that arrives.
  ack.mutable_settle()->mutable_ref()->set_partition(request.partition());
  ack.mutable_settle()->mutable_ref()->set_offset(request.offset());
  *ack.mutable_settle()->mutable_reply() = Reply(requester.address, "c1", "42");
  ASSERT_TRUE(responder.stream->Write(ack));
  EXPECT_EQ(NextReply(requester), "42");
  // A second reply to the same request still reaches the requester (it drops and counts it).
  EXPECT_TRUE(SendReply(Reply(requester.address, "c1", "again")).ok());
  EXPECT_EQ(NextReply(requester), "again");

  requester.context->TryCancel();
  responder.context->TryCancel();
  other.context->TryCancel();
}

TEST_F(ReplyTest, ReplyNeedsTheConsumeRightOnTheRequestsTopic) {
  std::ofstream(Path("tokens")) << "svc publish,consume quotes\n"
                                   "stranger consume other.\n";
  Start({"--tokens-file", Path("tokens")});
  Member responder = Join("quotes", "svc");
  Requester requester = OpenInbox("svc");
  SendRequest(requester, "quotes", "c1");
  NextDelivery(responder);

  grpc::Status denied = SendReply(Reply(requester.address, "c1", "spoofed"), "stranger");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << denied.error_message();
  EXPECT_NE(denied.error_message().find("'quotes'"), std::string::npos) << denied.error_message();
  EXPECT_TRUE(SendReply(Reply(requester.address, "c1", "real"), "svc").ok());
  EXPECT_EQ(NextReply(requester), "real");
  requester.context->TryCancel();
  responder.context->TryCancel();
}

}  // namespace
}  // namespace broker::integration
