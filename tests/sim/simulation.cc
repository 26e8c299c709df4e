#include "simulation.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "sim_world.h"

namespace broker::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kTopic[] = "orders";
constexpr char kGroup[] = "billing";
constexpr char kBarrierTopic[] = "sim-barrier";
// Steps a failure report shows; BROKER_SIM_TRACE_STEPS changes it (to compare two runs whole).
size_t TraceSteps() {
  const char* value = std::getenv("BROKER_SIM_TRACE_STEPS");
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : 40;
}

class Simulation {
 public:
  Simulation(uint64_t seed, const std::string& dir) : seed_(seed), rng_(seed) {
    Options options;
    options.durability = Chance(0.8) ? Durability::kSync : Durability::kAsync;
    options.ack_flush_batch = static_cast<size_t>(Uniform(1, 64));
    options.dedupe_window = seconds(Uniform(10, 300));
    options.block_cache_bytes = 0;  // every table read reaches the file system (read faults)
    partitions_ = static_cast<uint32_t>(Uniform(1, 3));
    topic_config_.partitions = partitions_;
    if (Chance(0.5)) topic_config_.retention_age = seconds(Uniform(30, 600));
    const Ordering orderings[] = {Ordering::kNone, Ordering::kPerKey, Ordering::kPerPartition};
    group_.ordering = orderings[Uniform(0, 2)];
    group_.ack_timeout = milliseconds(Uniform(1000, 20000));
    group_.max_deliveries = static_cast<uint32_t>(Uniform(1, 6));
    group_.backoff.initial = milliseconds(Uniform(50, 2000));
    group_.backoff.max = milliseconds(Uniform(2000, 20000));
    group_.backoff.jitter = Chance(0.5) ? 0.0 : 0.3;
    sync_broker_ = options.durability == Durability::kSync;
    result_.seed = seed;
    result_.config = std::string(sync_broker_ ? "sync" : "async") + " broker, ack_flush_batch " +
                     std::to_string(options.ack_flush_batch) + ", " + std::to_string(partitions_) +
                     " partitions, retention_age " +
                     std::to_string(topic_config_.retention_age.count()) + " ms, ordering " +
                     std::to_string(static_cast<int>(group_.ordering)) + ", ack_timeout " +
                     std::to_string(group_.ack_timeout.count()) + " ms, max_deliveries " +
                     std::to_string(group_.max_deliveries) + ", backoff " +
                     std::to_string(group_.backoff.initial.count()) + ".." +
                     std::to_string(group_.backoff.max.count()) + " ms jitter " +
                     std::to_string(group_.backoff.jitter);
    world_ = std::make_unique<SimWorld>(dir, options);
    model_ = std::make_unique<SimModel>(kTopic, kGroup, partitions_, group_, sync_broker_);
  }

  SimulationResult Run(int steps) {
    if (Status s = world_->Open(); !s.ok())
      return Fail("the broker does not open: " + s.ToString());
    if (Status s = broker().CreateTopic(kTopic, topic_config_); !s.ok()) {
      return Fail("CreateTopic: " + s.ToString());
    }
    if (Status s = broker().CreateGroup(kTopic, kGroup, group_); !s.ok()) {
      return Fail("CreateGroup: " + s.ToString());
    }
    for (int i = Uniform(1, 3); i > 0; --i) Join();
    for (int step = 0; step < steps && model_->violations().empty(); ++step) {
      result_.steps = step + 1;
      line_ = "step " + std::to_string(step) + " @" + std::to_string(Elapsed()) + "ms: ";
      outcome_ = line_;
      skip_barrier_ = false;
      Step();
      if (!skip_barrier_) Barrier();
      if (world_->open()) model_->CheckLag(broker(), Now());
      Record();
    }
    if (model_->violations().empty()) Drain();
    result_.violations = model_->violations();
    result_.stats = model_->stats();
    return result_;
  }

 private:
  // ---- Randomness: everything comes from rng_ ----
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  Broker& broker() { return world_->broker(); }
  TimePoint Now() { return world_->clock().Now(); }
  int64_t Elapsed() { return std::chrono::duration_cast<milliseconds>(Now() - start_).count(); }

  SimulationResult Fail(std::string text) {
    model_->Violation(std::move(text));
    result_.violations = model_->violations();
    return result_;
  }

  // The step's outcome goes into the trace and the fingerprint.
  void Record() {
    for (char c : outcome_) {
      result_.fingerprint = (result_.fingerprint ^ uint8_t(c)) * 1099511628211u;
    }
    outcome_.clear();
    trace_.push_back(line_);
    if (trace_.size() > trace_steps_) trace_.pop_front();
    result_.trace.assign(trace_.begin(), trace_.end());
  }
  void Say(const std::string& text) {
    line_ += text;
    outcome_ += text;
  }
  // For the trace only: error texts name files, which RocksDB's compactions number as they run.
  void Detail(const std::string& text) { line_ += text; }
  // A failed call: the fingerprint takes only that it failed. Which code a write answers while
  // the disk is full depends on where RocksDB's own recovery (on a real-time timer) is.
  void SayError(const Status& s) {
    outcome_ += " -> error";
    line_ += " -> " + std::string(StatusCodeName(s.code())) + " (" + s.message() + ")";
  }

  // An error no injected fault explains is a violation.
  bool Faulted() const { return write_faulted_ || read_fault_; }
  void Unexpected(const std::string& what, const Status& s, bool say = true) {
    if (say) SayError(s);
    if (!Faulted())
      model_->Violation("unexpected error with no fault injected: " + what + ": " + s.ToString());
  }

  // Waits until every write the step queued (dead letters, batched acks) has committed and
  // called back: the writer takes requests in order, so an async publish queued now is answered
  // after them. Async: it syncs nothing, so what a power loss may drop stays as it was.
  void Barrier() {
    if (!world_->open()) return;
    PublishOptions options;
    options.durability = Durability::kAsync;
    (void)broker().Publish(kBarrierTopic, {.payload = "b"}, options);
  }

  void Step() {
    // Weights of the operations, in the order of the switch below.
    static const std::vector<double> kWeights = {
        10,  7,   5, 3,  // publish: sync, async, PublishAsync, idempotent retry
        20,  12,  4, 5,  // poll, ack, ack persisted, nack
        3,   2,   2,     // extend, reject, release
        2,   2,          // join, leave
        8,   3,   3, 2,  // clock small, clock big, delivery timers, retention
        1.5, 1.5, 3,     // write fault, read fault, clear faults
        0.5,             // full disk
        1,   1.5,        // clean restart, power loss
    };
    std::discrete_distribution<int> pick(kWeights.begin(), kWeights.end());
    switch (pick(rng_)) {
      case 0:
        return Publish(Durability::kSync);
      case 1:
        return Publish(Durability::kAsync);
      case 2:
        return PublishAsync();
      case 3:
        return Retry();
      case 4:
        return Poll();
      case 5:
        return Settle(SimModel::Settle::kAck);
      case 6:
        return Settle(SimModel::Settle::kAckPersisted);
      case 7:
        return Settle(SimModel::Settle::kNack);
      case 8:
        return Settle(SimModel::Settle::kExtend);
      case 9:
        return Settle(SimModel::Settle::kReject);
      case 10:
        return Settle(SimModel::Settle::kRelease);
      case 11:
        return Join();
      case 12:
        return Leave();
      case 13:
        return Advance(milliseconds(Uniform(1, 3000)));
      case 14:
        return Advance(milliseconds(Uniform(5000, 120000)));
      case 15:
        return Timers();
      case 16:
        return Retention();
      case 17:
        return WriteFault();
      case 18:
        return ReadFault();
      case 19:
        return ClearFaults();
      case 20:
        return FullDisk();
      case 21:
        return Restart(false);
      case 22:
        return Restart(true);
    }
  }

  Message NewMessage() {
    Message m;
    if (Chance(0.7)) m.key = "k" + std::to_string(Uniform(0, 4));
    m.payload = "s" + std::to_string(seed_) + "-" + std::to_string(next_payload_++);
    if (Chance(0.2)) m.idempotency_key = "id" + std::to_string(next_payload_);
    return m;
  }

  // Feeds one publish's answer to the model.
  void Answered(const Result<std::vector<PublishResult>>& r, const std::vector<Message>& messages,
                bool sync, TimePoint at) {
    if (!r.ok()) {
      for (const Message& m : messages) model_->PublishFailed(m);
      Unexpected("publish", r.status());
      return;
    }
    Say(" ->");
    for (size_t i = 0; i < messages.size() && i < r->size(); ++i) {
      const PublishResult& pos = (*r)[i];
      Say(" p" + std::to_string(pos.partition.value()) + "o" + std::to_string(pos.offset.value()) +
          (pos.duplicate ? "dup" : ""));
      model_->Published(pos, messages[i], sync, at);
    }
  }

  void Publish(Durability durability) {
    std::vector<Message> messages;
    for (int i = Uniform(1, 3); i > 0; --i) messages.push_back(NewMessage());
    Say(std::string(durability == Durability::kSync ? "publish sync " : "publish async ") +
        std::to_string(messages.size()));
    PublishOptions options;
    options.durability = durability;
    const TimePoint at = Now();
    auto r = broker().PublishBatch(kTopic, messages, options);
    Answered(r, messages, durability == Durability::kSync, at);
  }

  // A producer retrying: an idempotency key used before, with sync durability (issue 15,
  // finding 3: a sync duplicate of an async original must not be answered before it is durable).
  void Retry() {
    if (Chance(0.5)) {
      // A producer whose async publish timed out on its side, retrying it with sync durability.
      Message original = NewMessage();
      original.idempotency_key = "id" + std::to_string(next_payload_);
      PublishOptions options;
      options.durability = Durability::kAsync;
      Say("publish async keyed");
      const TimePoint at = Now();
      Answered(broker().PublishBatch(kTopic, {original}, options), {original}, false, at);
      Say("; ");
    }
    const auto& keys = model_->idempotency_keys();
    if (keys.empty()) return Publish(Durability::kSync);
    Message m = NewMessage();
    // Half of the retries repeat the newest key: its publish is the likeliest not yet synced.
    m.idempotency_key =
        Chance(0.5) ? keys.back() : keys[static_cast<size_t>(Uniform(0, int64_t(keys.size()) - 1))];
    const Durability durability = Chance(0.7) ? Durability::kSync : Durability::kAsync;
    Say("retry " + m.idempotency_key);
    PublishOptions options;
    options.durability = durability;
    const TimePoint at = Now();
    auto r = broker().PublishBatch(kTopic, {m}, options);
    Answered(r, {m}, durability == Durability::kSync, at);
  }

  // Several PublishAsync requests queued at once; their answers come back on the writer thread.
  void PublishAsync() {
    struct Pending {
      std::vector<Message> messages;
      bool sync = false;
      std::optional<Result<std::vector<PublishResult>>> answer;
    };
    std::vector<Pending> pending(static_cast<size_t>(Uniform(1, 3)));
    std::mutex mu;
    std::condition_variable cv;
    size_t answered = 0;
    const TimePoint at = Now();
    Say("publish-async");
    // Async ones first: the writer may commit queued requests together or one by one (that is
    // its timing), and only with the synced ones last does either way sync the same writes.
    size_t async_ones = static_cast<size_t>(Uniform(0, int64_t(pending.size())));
    for (Pending& p : pending) {
      for (int i = Uniform(1, 2); i > 0; --i) p.messages.push_back(NewMessage());
      p.sync = async_ones == 0;
      if (async_ones > 0) --async_ones;
      PublishOptions options;
      options.durability = p.sync ? Durability::kSync : Durability::kAsync;
      Say(std::string(" ") + (p.sync ? "s" : "a") + std::to_string(p.messages.size()));
      broker().PublishAsync(kTopic, p.messages, options,
                            [&, target = &p](Result<std::vector<PublishResult>> r) {
                              std::lock_guard lock(mu);
                              target->answer = std::move(r);
                              ++answered;
                              cv.notify_all();
                            });
    }
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return answered == pending.size(); });
    }
    for (Pending& p : pending) Answered(*p.answer, p.messages, p.sync, at);
  }

  void Poll() {
    auto& members = world_->members();
    if (members.empty()) return Join();
    auto it = std::next(members.begin(), Uniform(0, int64_t(members.size()) - 1));
    const size_t max = static_cast<size_t>(Uniform(1, 5));
    Say("poll " + it->first + " " + std::to_string(max));
    auto got = it->second->Poll(max, milliseconds(0));
    if (!got.ok() && no_space_) {
      // With nothing to lease, a poll during a full disk answers empty or refuses, depending on
      // where RocksDB's own recovery (on its real-time timer) is: the same outcome here.
      return Detail(" -> " + std::string(StatusCodeName(got.status().code())) + " (" +
                    got.status().message() + ")");
    }
    if (!got.ok()) return Unexpected("poll", got.status());
    Say(" ->");
    for (const Delivery& d : *got) {
      Say(" p" + std::to_string(d.record.partition.value()) + "o" +
          std::to_string(d.record.offset.value()) + "a" + std::to_string(d.attempt));
      model_->Delivered(d, it->first, Now());
    }
  }

  void Settle(SimModel::Settle kind) {
    const auto leases = model_->Leases();
    if (leases.empty()) return Poll();
    const SimModel::Lease& l = leases[static_cast<size_t>(Uniform(0, int64_t(leases.size()) - 1))];
    Subscription& sub = *world_->members().at(l.member);
    const PartitionId p(l.pos.first);
    const Offset o(l.pos.second);
    Status status;
    std::optional<TimePoint> expiry;
    std::optional<milliseconds> delay;
    const char* names[] = {"ack", "ack-persisted", "nack", "extend", "reject", "release"};
    Say(std::string(names[static_cast<int>(kind)]) + " " + l.member + " p" +
        std::to_string(l.pos.first) + "o" + std::to_string(l.pos.second) + "a" +
        std::to_string(l.attempt));
    switch (kind) {
      case SimModel::Settle::kAck:
        status = sub.AckAttempt(p, o, l.attempt);
        break;
      case SimModel::Settle::kAckPersisted:
        status = sub.AckPersisted(p, o, l.attempt);
        break;
      case SimModel::Settle::kNack:
        if (Chance(0.5)) delay = milliseconds(Uniform(0, 3000));
        status = sub.NackAttempt(p, o, l.attempt, delay, "sim nack");
        break;
      case SimModel::Settle::kExtend: {
        auto r = sub.ExtendAttempt(p, o, l.attempt);
        status = r.status();
        if (r.ok()) expiry = *r;
        break;
      }
      case SimModel::Settle::kReject:
        status = sub.RejectAttempt(p, o, l.attempt, "sim reject");
        break;
      case SimModel::Settle::kRelease:
        status = sub.ReleaseAttempt(p, o, l.attempt);
        break;
    }
    if (status.ok() || status.code() == StatusCode::kFailedPrecondition) {
      Say(std::string(" -> ") + std::string(StatusCodeName(status.code())));
    } else {
      SayError(status);
      Unexpected("settle", status, false);
    }
    model_->Settled(kind, l.pos, l.member, l.attempt, status, expiry, Now(), delay);
  }

  void Join() {
    SubscribeOptions options;
    options.member = "m" + std::to_string(next_member_++);
    options.max_in_flight = static_cast<uint32_t>(Uniform(1, 8));
    options.group = group_;
    Say((line_.back() == ' ' ? "join " : "; join ") + options.member);
    auto sub = broker().Subscribe(kTopic, kGroup, options);
    if (!sub.ok()) return Unexpected("subscribe", sub.status());
    world_->members()[options.member] = std::move(sub).value();
  }

  void Leave() {
    auto& members = world_->members();
    if (members.empty()) return Join();
    auto it = std::next(members.begin(), Uniform(0, int64_t(members.size()) - 1));
    Say("leave " + it->first);
    model_->MemberLeft(it->first);
    members.erase(it);
  }

  void Advance(milliseconds d) {
    Say("clock +" + std::to_string(d.count()) + "ms");
    world_->clock().Advance(d);
  }

  void Timers() {
    Say("timers");
    if (Status s = broker().RunDeliveryTimers(); !s.ok()) Unexpected("timers", s);
  }

  void Retention() {
    Say("retention");
    auto r = broker().RunRetention();
    if (!r.ok()) return Unexpected("retention", r.status());
    Say(" -> " + std::to_string(*r));
    model_->RetentionRan(broker(), Now(), topic_config_.retention_age);
  }

  // Until cleared, or only for the next one or two writes (then the broker recovers with the
  // next write, unless the failure left RocksDB's WAL broken: storage/storage_db.cc).
  void WriteFault() {
    if (no_space_) return;
    const bool sync = Chance(0.4);
    const auto target = sync ? testing::FaultFileSystem::Target::kWalSync
                             : testing::FaultFileSystem::Target::kWalAppend;
    if (Chance(0.5)) {
      const int count = static_cast<int>(Uniform(1, 2));
      Say(std::string(sync ? "fault: next WAL syncs fail: " : "fault: next WAL appends fail: ") +
          std::to_string(count));
      world_->fs().FailNext(target, testing::FaultFileSystem::Error::kIoError, count);
    } else {
      Say(sync ? "fault: WAL sync fails" : "fault: WAL append fails");
      world_->fs().SetFault(target, testing::FaultFileSystem::Error::kIoError);
    }
    skip_barrier_ = true;  // the fault is for the next step's writes
    write_faulted_ = true;
    model_->WritesFailed();
    ++result_.write_faults;
  }

  // A full disk: RocksDB recovers from it on its own real-time timer (every 5 s), so only a
  // restart clears it here; until then every write fails, whenever that timer runs.
  void FullDisk() {
    Say("fault: disk full");
    world_->fs().SetFault(testing::FaultFileSystem::Target::kAllWrites,
                          testing::FaultFileSystem::Error::kNoSpace);
    world_->fs().SetReadFault(false);
    read_fault_ = false;
    no_space_ = true;
    write_faulted_ = true;
    model_->WritesFailed();
    ++result_.no_space;
  }

  // Not while the disk is full: RocksDB's own recovery may flush memory to tables meanwhile (on
  // its real-time timer), which would decide whether a read reaches a table.
  void ReadFault() {
    if (no_space_) return;
    Say("fault: table reads fail");
    world_->fs().SetReadFault(true);
    read_fault_ = true;
    ++result_.read_faults;
  }

  void ClearFaults() {
    Say("faults cleared");
    if (!no_space_) world_->fs().ClearFault();
    world_->fs().SetReadFault(false);
    read_fault_ = false;
  }

  void Restart(bool power_loss) {
    // What a power loss keeps during a full disk depends on whether RocksDB's own recovery (on
    // its real-time timer, on threads faults spare) has flushed memory to synced table files
    // yet: so the power stays on until the disk has room again.
    if (no_space_) power_loss = false;
    world_->fs().ClearFault();
    world_->fs().SetReadFault(false);
    read_fault_ = false;
    no_space_ = false;
    if (power_loss) {
      const uint64_t dropped = world_->LosePower();
      // (How much an async barrier adds depends on whether the writer committed it together
      // with a synced write: trace only.)
      Say("power loss");
      Detail(", " + std::to_string(dropped) + " unsynced bytes dropped");
      result_.bytes_dropped += dropped;
      ++result_.power_losses;
    } else {
      Say("restart");
      world_->Close();
      ++result_.restarts;
    }
    if (Status s = world_->Open(); !s.ok()) {
      model_->Violation(std::string("I1: the broker does not open after a ") +
                        (power_loss ? "power loss: " : "clean close: ") + s.ToString());
      return;
    }
    model_->Reopened(broker(), power_loss);
    write_faulted_ = false;
    for (int i = Uniform(1, 2); i > 0; --i) Join();
  }

  // The end: faults off, a clean restart, one member that acks everything, time moving on
  // until nothing is unsettled; then I3.
  void Drain() {
    line_ = "drain: ";
    Restart(false);
    Record();
    if (!model_->violations().empty()) return;
    world_->members().clear();  // their leases: none, they never polled
    SubscribeOptions options;
    options.member = "drainer";
    options.max_in_flight = 64;
    auto sub = broker().Subscribe(kTopic, kGroup, options);
    if (!sub.ok()) return model_->Violation("drain: subscribe: " + sub.status().ToString());
    for (int round = 0; round < 1000 && model_->violations().empty(); ++round) {
      if (Status s = broker().RunDeliveryTimers(); !s.ok()) {
        return model_->Violation("drain: timers: " + s.ToString());
      }
      auto got = (*sub)->Poll(64, milliseconds(0));
      if (!got.ok()) return model_->Violation("drain: poll: " + got.status().ToString());
      for (const Delivery& d : *got) {
        model_->Delivered(d, "drainer", Now());
        const Status s = (*sub)->AckAttempt(d.record.partition, d.record.offset, d.attempt);
        model_->Settled(SimModel::Settle::kAck,
                        {d.record.partition.value(), d.record.offset.value()}, "drainer", d.attempt,
                        s, std::nullopt, Now());
      }
      if (got->empty()) {
        if (!model_->unsettled_remaining(broker())) break;
        world_->clock().Advance(seconds(30));
      }
    }
    if (Status s = broker().RunDeliveryTimers(); !s.ok()) {
      return model_->Violation("drain: timers: " + s.ToString());
    }
    model_->CheckDrained(broker());
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  uint32_t partitions_ = 1;
  TopicConfig topic_config_;
  GroupConfig group_;
  bool sync_broker_ = true;
  std::unique_ptr<SimWorld> world_;
  std::unique_ptr<SimModel> model_;
  const TimePoint start_ = testing::FakeClock().Now();
  bool write_faulted_ = false;  // a write fault was set since the broker opened
  bool no_space_ = false;       // the disk is full until the next restart
  bool read_fault_ = false;
  bool skip_barrier_ = false;  // the step queued no write, and must not spend a one-shot fault
  int next_payload_ = 0;
  int next_member_ = 0;
  std::string line_;     // the step as the trace shows it
  std::string outcome_;  // what of it the fingerprint hashes
  std::deque<std::string> trace_;
  const size_t trace_steps_ = TraceSteps();
  SimulationResult result_;
};

}  // namespace

SimulationResult RunSimulation(uint64_t seed, int steps, const std::string& dir) {
  Simulation simulation(seed, dir);
  return simulation.Run(steps);
}

}  // namespace broker::sim
