// A full disk, for real: brokerd's data directory on a small filesystem (SmallFilesystem: ext4 on a
// loop device, or tmpfs) that a ballast file fills. DESIGN.md: a full disk refuses new publishes
// with resource_exhausted and never corrupts or loses what was acknowledged; issue 7: reads and
// acks go on where they can, and publishing recovers by itself when space returns.
//
// RocksDB 7.8 cannot replace a WAL writer whose append failed while every memtable was empty (the
// first write after opening; tests/unit/engine/write_fault_test.cc, storage/storage_db.cc): that
// case needs a restart of brokerd once space is back, and the last test shows it.
//
// Needs root to mount; skipped otherwise (the fault-injecting FileSystem of write_fault_test.cc
// covers the same engine paths without a mount).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "admin_probe.h"
#include "broker/v1/admin.grpc.pb.h"
#include "brokerd_fixture.h"
#include "small_filesystem.h"

namespace broker::integration {
namespace {

using namespace std::chrono_literals;

constexpr char kTopic[] = "disk.events";
constexpr size_t kFilesystemMib = 32;
constexpr size_t kPayloadBytes = 1024;

// brokerd's flags here: fsync before every acknowledgement, and 2 MiB memtables so that RocksDB's
// WAL preallocation (about 1.1 memtables) is small against the filesystem and flushes happen.
const std::vector<std::string> kBrokerdArgs = {"--durability", "sync", "--write-buffer-mib", "2"};

std::string Payload(const std::string& id) {
  static std::mt19937_64 rng(7);
  std::string payload = id + ":";
  while (payload.size() < kPayloadBytes) payload.push_back(static_cast<char>('a' + rng() % 26));
  return payload;
}

std::string IdOf(const std::string& payload) { return payload.substr(0, payload.find(':')); }

struct Position {
  uint32_t partition;
  uint64_t offset;
  bool operator==(const Position&) const = default;
};

// A manual consumer whose handlers hold each message until released, then ack it.
class HoldingConsumer {
 public:
  void Handle(client::MessageContext& context) {
    std::unique_lock lock(mu_);
    seen_.insert(IdOf(context.message().record.payload));
    max_attempt_ = std::max(max_attempt_, context.message().attempt);
    ++holding_;
    cv_.notify_all();
    cv_.wait_for(lock, 120s, [&] { return released_; });
    --holding_;
    lock.unlock();
    const Status acked = context.Ack();
    lock.lock();
    (acked.ok() ? acks_ok_ : acks_failed_)++;
    if (!acked.ok()) last_ack_error_ = acked.ToString();
    cv_.notify_all();
  }
  bool WaitHolding(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return holding_ >= n; });
  }
  bool WaitAcked(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return acks_ok_ + acks_failed_ >= n; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool Seen(const std::string& id) {
    std::lock_guard lock(mu_);
    return seen_.contains(id);
  }
  // True once every message of `ids` (a map keyed by message id) has been handled.
  template <typename Ids>
  bool WaitSeenAll(const Ids& ids, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return std::all_of(ids.begin(), ids.end(),
                         [&](const auto& entry) { return seen_.contains(entry.first); });
    });
  }
  size_t acks_ok() {
    std::lock_guard lock(mu_);
    return acks_ok_;
  }
  size_t seen() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  uint32_t max_attempt() {
    std::lock_guard lock(mu_);
    return max_attempt_;
  }
  size_t acks_failed() {
    std::lock_guard lock(mu_);
    return acks_failed_;
  }
  std::string last_ack_error() {
    std::lock_guard lock(mu_);
    return last_ack_error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> seen_;
  size_t holding_ = 0;
  uint32_t max_attempt_ = 0;
  bool released_ = false;
  size_t acks_ok_ = 0;
  size_t acks_failed_ = 0;
  std::string last_ack_error_;
};

class FullDiskTest : public BrokerdTest {
 protected:
  void SetUp() override {
    BrokerdTest::SetUp();
    std::string why;
    fs_ = SmallFilesystem::Mount(dir_, kFilesystemMib, &why);
    if (!fs_) GTEST_SKIP() << why;
    std::cout << "data directory on " << fs_->kind() << ", " << kFilesystemMib << " MiB\n";
  }
  void TearDown() override {
    holder_.Release();
    consumer_.reset();
    client_.reset();
    brokerd_.reset();  // SIGKILL if still running: the filesystem must be free to unmount
    fs_.reset();
    BrokerdTest::TearDown();
  }

  std::string Data() const { return (fs_->root() / "data").string(); }

  void Start() {
    std::string error;
    brokerd_ = testing::BrokerdProcess::Start(Data(), kBrokerdArgs, &error, 30s, address_);
    ASSERT_TRUE(brokerd_.has_value()) << error;
    address_ = brokerd_->address();  // restarts keep the address: clients reconnect by themselves
    if (!client_) client_ = Connect();
    probe_ = testing::AdminProbe::Connect(address_);
  }
  void Restart() {
    ASSERT_EQ(brokerd_->Stop(), 0) << brokerd_->Output();
    ASSERT_NO_FATAL_FAILURE(Start());
  }

  // Group "work" of kTopic, whose member holds (unacked) the first `n` messages it leases until
  // holder_.Release().
  void StartHoldingConsumer(uint32_t n) {
    client::ConsumerOptions options;
    options.concurrency = n;
    options.max_in_flight = n;
    options.group.ack_timeout = 120s;
    auto consumer = client_->SubscribeManual(
        kTopic, "work", [this](client::MessageContext& context) { holder_.Handle(context); },
        options);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    consumer_ = std::move(consumer).value();
    ASSERT_TRUE(holder_.WaitHolding(n));
  }

  // Publishes `n` messages one call each, all of which must be acknowledged.
  void PublishAcknowledged(const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string payload = Payload(prefix + std::to_string(i));
      auto pos = client_->Publish(kTopic, {.payload = payload}).get();
      ASSERT_TRUE(pos.ok()) << pos.status().ToString();
      Acknowledge(payload, *pos);
    }
  }
  void Acknowledge(const std::string& payload, const PublishResult& pos) {
    auto [it, inserted] =
        acknowledged_.emplace(IdOf(payload), Position{pos.partition.value(), pos.offset.value()});
    EXPECT_TRUE(inserted) << "acknowledged twice: " << IdOf(payload);
    payloads_[IdOf(payload)] = payload;
  }

  // Publishes batches of 16 until brokerd refuses one; returns the refusal. Fails the test if
  // more than the whole filesystem's size was acknowledged meanwhile.
  Status PublishUntilRefused() {
    const size_t limit = 2 * (kFilesystemMib << 20) / kPayloadBytes;
    for (size_t published = 0; published < limit;) {
      std::vector<Message> batch;
      std::vector<std::string> ids;
      for (int i = 0; i < 16; ++i) {
        ids.push_back("fill" + std::to_string(next_fill_++));
        batch.push_back({.payload = Payload(ids.back())});
      }
      auto positions = client_->PublishBatch(kTopic, batch).get();
      if (!positions.ok()) {
        refused_.push_back(ids);
        return positions.status();
      }
      for (size_t i = 0; i < batch.size(); ++i) Acknowledge(batch[i].payload, (*positions)[i]);
      published += batch.size();
    }
    ADD_FAILURE() << "brokerd acknowledged " << limit << " KiB on a " << kFilesystemMib
                  << " MiB filesystem that had been filled";
    return Status::Ok();
  }

  // Every record of the topic, by id, read through the admin plane; checks offsets are dense.
  std::map<std::string, Position> StoredRecords() {
    std::map<std::string, Position> stored;
    auto stub = v1::AdminService::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    v1::DescribeTopicRequest describe;
    describe.set_name(kTopic);
    v1::TopicInfo info;
    {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 10s);
      const grpc::Status s = stub->DescribeTopic(&context, describe, &info);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    for (const auto& partition : info.partitions()) {
      uint64_t next = 0;
      while (next < partition.end_offset()) {
        v1::ReadRequest request;
        request.set_topic(kTopic);
        request.set_partition(partition.partition());
        request.set_from_offset(next);
        request.set_max_records(500);
        v1::ReadResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + 10s);
        const grpc::Status s = stub->Read(&context, request, &response);
        if (!s.ok() || response.records().empty()) {
          ADD_FAILURE() << "reading partition " << partition.partition() << " at " << next << ": "
                        << s.error_message();
          break;
        }
        for (const auto& record : response.records()) {
          EXPECT_EQ(record.offset(), next) << "offsets must be dense";
          const std::string id = IdOf(record.payload());
          auto known = payloads_.find(id);
          if (known != payloads_.end()) {
            EXPECT_EQ(record.payload(), known->second) << "bytes of " << id;
          }
          stored[id] = {record.partition(), record.offset()};
          next = record.offset() + 1;
        }
      }
    }
    return stored;
  }

  // Every acknowledged publish is stored at its position with its bytes; anything else stored is
  // a refused batch, whole (a batch is one atomic write).
  void ExpectNothingAcknowledgedLost() {
    std::map<std::string, Position> stored = StoredRecords();
    for (const auto& [id, position] : acknowledged_) {
      auto it = stored.find(id);
      ASSERT_NE(it, stored.end()) << "acknowledged publish " << id << " is lost";
      EXPECT_EQ(it->second, position) << id << " moved";
      stored.erase(it);
    }
    for (const auto& batch : refused_) {
      size_t found = 0;
      for (const std::string& id : batch) found += stored.erase(id);
      EXPECT_TRUE(found == 0 || found == batch.size()) << "a refused batch is stored in part";
    }
    EXPECT_TRUE(stored.empty()) << stored.size() << " records nobody published, e.g. "
                                << stored.begin()->first;
  }

  std::unique_ptr<SmallFilesystem> fs_;
  std::string address_ = "127.0.0.1:0";
  std::unique_ptr<client::Client> client_;
  HoldingConsumer holder_;
  std::unique_ptr<client::Consumer> consumer_;
  std::unique_ptr<testing::AdminProbe> probe_;
  std::map<std::string, Position> acknowledged_;
  std::map<std::string, std::string> payloads_;
  std::vector<std::vector<std::string>> refused_;
  int next_fill_ = 0;
};

TEST_F(FullDiskTest, RefusesPublishesKeepsReadsAndAcksAndRecoversByItselfWhenSpaceReturns) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(probe_->CreateTopic(kTopic, 2).ok());
  ASSERT_NO_FATAL_FAILURE(PublishAcknowledged("pre", 40));

  // Four messages leased to a consumer that holds them, unacked, into the full-disk phase.
  ASSERT_NO_FATAL_FAILURE(StartHoldingConsumer(4));
  HoldingConsumer& holder = holder_;

  const size_t ballast = fs_->Fill();
  std::cout << "ballast: " << (ballast >> 10) << " KiB; " << (fs_->Available() >> 10)
            << " KiB left\n";

  // New publishes are refused with resource_exhausted, and go on being refused (not turned
  // into a permanent failure) while the disk stays full.
  const Status refused = PublishUntilRefused();
  std::cout << "acknowledged before the refusal: " << acknowledged_.size() << " messages\n";
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted)
      << refused.ToString() << "\nbrokerd's output:\n"
      << brokerd_->Output();
  EXPECT_NE(refused.message().find("disk is full"), std::string::npos) << refused.message();
  for (int i = 0; i < 3; ++i) {
    auto again =
        client_->Publish(kTopic, {.payload = Payload("refused" + std::to_string(i))}).get();
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().code(), StatusCode::kResourceExhausted) << again.status().ToString();
    refused_.push_back({"refused" + std::to_string(i)});
  }

  // Reads go on: the admin plane's view of the topic and the group, and the records themselves.
  auto records = probe_->TopicRecords(kTopic);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  EXPECT_EQ(*records, acknowledged_.size());
  auto lag = probe_->DescribeGroup(kTopic, "work");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  EXPECT_EQ(lag->in_flight, 4u);
  ASSERT_NO_FATAL_FAILURE(ExpectNothingAcknowledgedLost());

  // Acks of the held messages: taken while the disk is full (kept in memory, persisted once the
  // disk allows). The member's stream stays open although leasing its next message fails.
  holder.Release();
  ASSERT_TRUE(holder.WaitAcked(4));
  EXPECT_EQ(holder.acks_ok(), 4u) << holder.last_ack_error();

  // Space returns: publishing works again by itself, with no restart (RocksDB's own recovery
  // from a full disk checks the free space every 5 s; storage/storage_db.cc).
  fs_->Free();
  std::cout << "space returned: " << (fs_->Available() >> 10) << " KiB free\n";
  Result<PublishResult> after = Status::Unavailable("not yet published");
  const std::string after_payload = Payload("after");
  // brokerd logs each refused call; between tries, wait for its next log line (at most 100 ms).
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    after = client_->Publish(kTopic, {.payload = after_payload, .idempotency_key = "after"}).get();
    if (after.ok() || std::chrono::steady_clock::now() >= give_up) break;
    brokerd_->Drain(100);
  }
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  Acknowledge(after_payload, *after);
  ASSERT_NO_FATAL_FAILURE(PublishAcknowledged("post", 40));

  // The group, which could not lease while the disk was full, delivers everything by itself.
  EXPECT_TRUE(holder.WaitSeenAll(acknowledged_, 60s))
      << "the consumer group did not resume delivering after space returned";

  // And after a restart: everything acknowledged is there, byte for byte, at its position.
  EXPECT_TRUE(consumer_->Close(10s).ok());
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_NO_FATAL_FAILURE(ExpectNothingAcknowledgedLost());
  auto lag_after = probe_->DescribeGroup(kTopic, "work");
  ASSERT_TRUE(lag_after.ok()) << lag_after.status().ToString();
  EXPECT_EQ(lag_after->unsettled, 0u) << "every message was acked before the restart";
}

// A consumer on a full disk (issue 7): acks go on working, the member's Subscribe stream stays
// open though leasing its next message fails, and once space returns the group delivers the rest
// by itself: no publish, no reconnect, no restart. Retried leases do not count delivery attempts.
TEST_F(FullDiskTest, AcksKeepWorkingAndDeliveryResumesByItselfWhenSpaceReturns) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(probe_->CreateTopic(kTopic, 2).ok());
  ASSERT_NO_FATAL_FAILURE(PublishAcknowledged("pre", 40));

  ASSERT_NO_FATAL_FAILURE(StartHoldingConsumer(4));
  HoldingConsumer& holder = holder_;

  fs_->Fill();
  ASSERT_EQ(PublishUntilRefused().code(), StatusCode::kResourceExhausted);

  // Every held message is acked while the disk is full; the next leases are refused, so nothing
  // more is delivered, and the stream is not closed for it.
  holder.Release();
  ASSERT_TRUE(holder.WaitAcked(4));
  EXPECT_EQ(holder.acks_ok(), 4u) << holder.last_ack_error();
  EXPECT_EQ(holder.acks_failed(), 0u) << holder.last_ack_error();
  auto lag = probe_->DescribeGroup(kTopic, "work");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  EXPECT_EQ(lag->in_flight, 0u) << "acked, and nothing leased on the full disk";
  EXPECT_EQ(lag->members, 1u);
  EXPECT_EQ(holder.seen(), 4u) << "delivered on a full disk";
  const std::string closed = "event=stream_closed method=/broker.v1.BrokerService/Subscribe";
  EXPECT_EQ(brokerd_->Output().find(closed), std::string::npos)
      << "brokerd closed the Subscribe stream:\n"
      << brokerd_->Output();

  // Space returns. Nothing is published: the group resumes delivering by itself.
  fs_->Free();
  EXPECT_TRUE(holder.WaitSeenAll(acknowledged_, 60s))
      << "delivered " << holder.seen() << " of " << acknowledged_.size() << " after space returned";
  EXPECT_LE(holder.max_attempt(), 2u) << "refused leases must not pile up delivery attempts";
  EXPECT_EQ(brokerd_->Output().find(closed), std::string::npos)
      << "brokerd closed the Subscribe stream:\n"
      << brokerd_->Output();
  EXPECT_TRUE(consumer_->Close(10s).ok());
}

// What an operator often does first: restart brokerd on the full disk. brokerd either cannot open
// its data directory (RocksDB writes a new WAL, MANIFEST and OPTIONS file when it opens) and says
// so, or opens and refuses publishes; once space is back, one more restart brings everything back,
// with nothing acknowledged lost.
TEST_F(FullDiskTest, RestartOnAFullDiskLosesNothingAndAnotherRestartRecovers) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_TRUE(probe_->CreateTopic(kTopic, 2).ok());
  ASSERT_NO_FATAL_FAILURE(PublishAcknowledged("pre", 40));
  ASSERT_EQ(brokerd_->Stop(), 0) << brokerd_->Output();
  brokerd_.reset();

  const size_t ballast = fs_->Fill();
  std::cout << "ballast: " << (ballast >> 10) << " KiB; " << (fs_->Available() >> 10)
            << " KiB left\n";
  std::string error;
  brokerd_ = testing::BrokerdProcess::Start(Data(), kBrokerdArgs, &error, 30s, address_);
  if (!brokerd_) {
    std::cout << "brokerd does not start on the full disk: " << error << "\n";
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
  } else {
    std::cout << "brokerd started on the full disk\n";
    probe_ = testing::AdminProbe::Connect(address_);
    auto records = probe_->TopicRecords(kTopic);
    ASSERT_TRUE(records.ok()) << records.status().ToString();
    EXPECT_EQ(*records, acknowledged_.size()) << "reads work on the full disk";
    const Status refused = PublishUntilRefused();
    std::cout << "publish refused: " << refused.ToString() << "\n";
    EXPECT_TRUE(refused.code() == StatusCode::kResourceExhausted ||
                refused.code() == StatusCode::kUnavailable)
        << refused.ToString();
    brokerd_->Kill();
  }

  fs_->Free();
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(ExpectNothingAcknowledgedLost());
  ASSERT_NO_FATAL_FAILURE(PublishAcknowledged("post", 10));
  ASSERT_NO_FATAL_FAILURE(Restart());
  ASSERT_NO_FATAL_FAILURE(ExpectNothingAcknowledgedLost());
}

}  // namespace
}  // namespace broker::integration
