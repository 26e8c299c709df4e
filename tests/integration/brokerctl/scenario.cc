#include "scenario.h"

#include <memory>
#include <optional>

#include "broker/broker.h"
#include "broker/testing/fake_clock.h"

namespace broker::testing {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

std::string Payload(int i) {
  if (i == ScenarioFacts::kBinaryMessage) {
    return std::string("\x00\x01\x02\xff\xfe", 5) + "not json at all";
  }
  return "{\"order\": " + std::to_string(1000 + i) + ", \"email\": \"user-" + std::to_string(i) +
         "@example.com\"}";
}

std::string Traceparent(int i) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00-%032x-%016x-01", 0xabc000 + i, 0x100 + i);
  return buf;
}

bool Contains(const std::vector<int>& v, int i) {
  for (int x : v) {
    if (x == i) return true;
  }
  return false;
}

// Runs the scenario; any failed engine call ends it with that status.
class Builder {
 public:
  Builder(Broker& broker, FakeClock& clock, ScenarioFacts& facts)
      : broker_(broker), clock_(clock), facts_(facts) {}

  Status Run() {
    TopicConfig topic;
    topic.partitions = 2;
    if (Status s = broker_.CreateTopic("orders", topic); !s.ok()) return s;
    if (Status s = Publish(0, ScenarioFacts::kFirstBacklog); !s.ok()) return s;

    GroupConfig email;
    email.max_deliveries = 3;
    email.backoff.jitter = 0;
    if (Status s = broker_.CreateGroup("orders", "email", email); !s.ok()) return s;
    GroupConfig analytics;
    analytics.backoff.jitter = 0;
    if (Status s = broker_.CreateGroup("orders", "analytics", analytics); !s.ok()) return s;

    clock_.Advance(minutes(1));
    if (Status s = Email(); !s.ok()) return s;
    if (Status s = Analytics(); !s.ok()) return s;

    // A late bug: another failure mode 90 minutes in.
    clock_.Set(facts_.start + minutes(90));
    if (Status s = FailUntilDead(*email_sub_, ScenarioFacts::kEmailTemplateMissing,
                                 "template 'receipt-v2' missing", 1);
        !s.ok()) {
      return s;
    }
    // New orders arrive that nobody has consumed yet.
    clock_.Set(facts_.start + minutes(100));
    if (Status s = Publish(ScenarioFacts::kFirstBacklog, ScenarioFacts::kMessages); !s.ok()) {
      return s;
    }
    if (Status s = broker_.RunDeliveryTimers(); !s.ok()) return s;
    email_sub_.reset();
    analytics_sub_.reset();
    return broker_.RunDeliveryTimers();
  }

 private:
  Status Publish(int from, int to) {
    for (int i = from; i < to; ++i) {
      Message m;
      m.key = "customer-" + std::to_string(i);
      m.payload = Payload(i);
      m.headers = {{"traceparent", Traceparent(i)},
                   {"content-type", i == ScenarioFacts::kBinaryMessage ? "application/octet-stream"
                                                                       : "application/json"}};
      auto r = broker_.Publish("orders", std::move(m));
      if (!r.ok()) return r.status();
      facts_.placed[i] = {r->partition.value(), r->offset.value()};
      facts_.payloads[i] = Payload(i);
      published_ = i + 1;
      clock_.Advance(seconds(1));
    }
    return Status::Ok();
  }

  int IndexOf(const Delivery& d) const {
    for (int i = 0; i < ScenarioFacts::kMessages; ++i) {
      if (facts_.placed[i].partition == d.record.partition.value() &&
          facts_.placed[i].offset == d.record.offset.value()) {
        return i;
      }
    }
    return -1;
  }

  // "i:group=status/attempts ..." of every message published so far (for failure messages).
  std::string States() {
    std::string states;
    for (int i = 0; i < published_; ++i) {
      auto st = broker_.GetMessageState("orders", PartitionId(facts_.placed[i].partition),
                                        Offset(facts_.placed[i].offset));
      if (!st.ok()) continue;
      for (const auto& g : *st) {
        states += " " + std::to_string(i) + ":" + g.group + "=" +
                  std::string(MessageStatusName(g.status)) + "/" + std::to_string(g.attempts);
      }
    }
    return states;
  }

  // Leases `count` messages (they are all available: no waiting beyond the safety timeout).
  Result<std::vector<Delivery>> PollAll(Subscription& sub, size_t count) {
    std::vector<Delivery> all;
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto got = sub.Poll(count - all.size(), std::chrono::milliseconds(500));
      if (!got.ok()) return got.status();
      for (auto& d : *got) all.push_back(std::move(d));
    }
    if (all.size() != count) {
      return Status::Internal("scenario: leased " + std::to_string(all.size()) + " of " +
                              std::to_string(count) + "; states:" + States());
    }
    return all;
  }

  Status Email() {
    auto sub = broker_.Subscribe("orders", "email", SubscribeOptions{.member = "email-worker-1"});
    if (!sub.ok()) return sub.status();
    email_sub_ = std::move(sub).value();
    auto deliveries = PollAll(*email_sub_, ScenarioFacts::kFirstBacklog);
    if (!deliveries.ok()) return deliveries.status();
    std::vector<int> failing;
    for (const Delivery& d : *deliveries) {
      const int i = IndexOf(d);
      Status s;
      if (i == ScenarioFacts::kBinaryMessage) {
        s = email_sub_->Reject(d.record.partition, d.record.offset, "payload is not JSON");
      } else if (i == 9) {
        s = email_sub_->Reject(d.record.partition, d.record.offset,
                               "invalid address: user-9@example.com has no MX record");
      } else if (Contains(ScenarioFacts::kEmailSmtpTimeout, i) ||
                 Contains(ScenarioFacts::kEmailTemplateMissing, i)) {
        // Nacked once now; the template ones are retried (and die) later.
        s = email_sub_->Nack(d.record.partition, d.record.offset, std::chrono::milliseconds(0),
                             Contains(ScenarioFacts::kEmailSmtpTimeout, i)
                                 ? "smtp timeout: mx1.example.com:25 did not answer in 30s"
                                 : "template 'receipt-v2' missing");
      } else {
        s = email_sub_->Ack(d.record.partition, d.record.offset);
      }
      if (!s.ok()) return s;
    }
    // Both smtp messages fail twice more (max_deliveries 3): dead. The template message waits,
    // leased again and nacked with the same error until 90 minutes in.
    return FailUntilDead(*email_sub_, ScenarioFacts::kEmailSmtpTimeout,
                         "smtp timeout: mx1.example.com:25 did not answer in 30s", 2,
                         ScenarioFacts::kEmailTemplateMissing);
  }

  // Redelivers the messages `which` `rounds` times, nacking each with `error` (the last nack
  // dead-letters them). Messages in `hold` that come by are nacked with a long delay instead.
  Status FailUntilDead(Subscription& sub, const std::vector<int>& which, const std::string& error,
                       int rounds, const std::vector<int>& hold = {}) {
    for (int round = 0; round < rounds; ++round) {
      clock_.Advance(seconds(5));
      if (Status s = broker_.RunDeliveryTimers(); !s.ok()) return s;
      auto deliveries = PollAll(sub, which.size() + (round == 0 ? hold.size() : 0));
      if (!deliveries.ok()) return deliveries.status();
      for (const Delivery& d : *deliveries) {
        const int i = IndexOf(d);
        Status s;
        if (Contains(hold, i)) {
          s = sub.Nack(d.record.partition, d.record.offset, minutes(80),
                       "template 'receipt-v2' missing");
        } else if (Contains(which, i)) {
          s = sub.Nack(d.record.partition, d.record.offset, std::chrono::milliseconds(0), error);
        } else {
          s = Status::Internal("scenario: unexpected delivery of message " + std::to_string(i));
        }
        if (!s.ok()) return s;
      }
    }
    return broker_.RunDeliveryTimers();
  }

  Status Analytics() {
    auto sub =
        broker_.Subscribe("orders", "analytics", SubscribeOptions{.member = "analytics-worker-1"});
    if (!sub.ok()) return sub.status();
    analytics_sub_ = std::move(sub).value();
    auto deliveries = PollAll(*analytics_sub_, ScenarioFacts::kFirstBacklog);
    if (!deliveries.ok()) return deliveries.status();
    for (const Delivery& d : *deliveries) {
      const int i = IndexOf(d);
      Status s;
      if (i == ScenarioFacts::kAnalyticsRejected) {
        s = analytics_sub_->Reject(d.record.partition, d.record.offset, "schema v1 unsupported");
      } else if (i == ScenarioFacts::kAnalyticsDelayed) {
        s = analytics_sub_->Nack(d.record.partition, d.record.offset, std::chrono::hours(10),
                                 "warehouse unavailable");
      } else {
        s = analytics_sub_->Ack(d.record.partition, d.record.offset);
      }
      if (!s.ok()) return s;
    }
    return broker_.RunDeliveryTimers();
  }

  Broker& broker_;
  FakeClock& clock_;
  ScenarioFacts& facts_;
  std::unique_ptr<Subscription> email_sub_;
  std::unique_ptr<Subscription> analytics_sub_;
  int published_ = 0;
};

}  // namespace

uint64_t ScenarioFacts::CountIn(uint32_t p, int from, int to) const {
  uint64_t n = 0;
  for (int i = from; i < to; ++i) n += placed[i].partition == p ? 1 : 0;
  return n;
}

Result<ScenarioFacts> BuildScenario(const std::string& data_dir, TimePoint start) {
  auto clock = std::make_shared<FakeClock>(start);
  Options options;
  options.data_dir = data_dir;
  options.clock = clock;
  options.background_work = false;
  options.auto_create_topics = false;
  auto opened = Broker::Open(options);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<Broker> broker = std::move(opened).value();
  ScenarioFacts facts;
  facts.start = start;
  facts.placed.resize(ScenarioFacts::kMessages);
  facts.payloads.resize(ScenarioFacts::kMessages);
  Status s = Builder(*broker, *clock, facts).Run();
  broker.reset();  // persists batched acks and closes the directory
  if (!s.ok()) return s;
  return facts;
}

}  // namespace broker::testing
