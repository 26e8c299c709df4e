// fuzz_seeds: writes the seed corpus of every fuzz target, built with the real encoders so the
// seeds are valid inputs the fuzzers then mutate. Run it after changing a format or a target and
// commit the result:
//   build/fuzz/tests/fuzz/fuzz_seeds tests/fuzz/corpus
// Files are named after what they hold; existing files of the same name are overwritten.
#include <google/protobuf/text_format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/v1/broker.pb.h"
#include "delivery/group_records.h"
#include "kafka/protocol.h"
#include "kafka/record_batch.h"
#include "service_session.pb.h"
#include "storage/keys.h"
#include "storage/record_codec.h"
#include "storage/topic_meta.h"

namespace broker::fuzz {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const TimePoint kTime(std::chrono::microseconds(1767225600000000LL));

class SeedWriter {
 public:
  explicit SeedWriter(fs::path root) : root_(std::move(root)) {}
  // Writes `bytes` as <root>/<target>/<name>, after the selector byte if there is one.
  void Write(const std::string& target, const std::string& name, std::string_view bytes,
             int selector = -1) {
    fs::create_directories(root_ / target);
    std::ofstream out(root_ / target / name, std::ios::binary | std::ios::trunc);
    if (selector >= 0) out.put(static_cast<char>(selector));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ++written_;
  }
  int written() const { return written_; }

 private:
  fs::path root_;
  int written_ = 0;
};

void RecordCodecSeeds(SeedWriter& w) {
  const std::string t = "record_codec_fuzzer";
  storage::BatchEncoder encoder;
  w.Write(t, "batch_empty", encoder.Finish(), 0);
  encoder.Add(Message{.key = "customer-42",
                      .payload = "order placed",
                      .headers = {{"trace", "abc"}, {"trace", "def"}}},
              kTime);
  encoder.Add(Message{.payload = std::string("\0bin\xff", 5)}, kTime + milliseconds(1));
  encoder.Add(Message{.key = "", .payload = ""}, kTime - milliseconds(5));
  w.Write(t, "batch_three_records", encoder.Finish(), 0);
  w.Write(t, "index_entry",
          storage::EncodeIndexEntry({.count = 3, .bytes = 120, .max_timestamp = kTime}), 1);
  w.Write(t, "log_key", storage::LogKey(storage::TopicId(7), PartitionId(3), Offset(1'000'000)), 2);
}

void TopicMetaSeeds(SeedWriter& w) {
  const std::string t = "topic_meta_fuzzer";
  storage::TopicRecord topic{.id = storage::TopicId(5),
                             .config = {.partitions = 8,
                                        .retention_age = milliseconds(3'600'000),
                                        .retention_bytes = 1 << 30,
                                        .max_message_bytes = 65536},
                             .created_at = kTime};
  w.Write(t, "topic_record", storage::EncodeTopicRecord(topic), 0);
  w.Write(t, "partition_record",
          storage::EncodePartitionRecord(
              {.first_offset = Offset(10), .end_offset = Offset(250), .bytes = 4096}),
          1);
  w.Write(t, "dedupe_record",
          storage::EncodeDedupeRecord(
              {.partition = PartitionId(2), .offset = Offset(99), .first_seen = kTime}),
          2);
}

void GroupRecordSeeds(SeedWriter& w) {
  using namespace delivery;  // NOLINT(build/namespaces)
  const std::string t = "group_records_fuzzer";
  const storage::TopicId topic(3);
  w.Write(t, "key_group", GroupKey(topic, "billing"), 0);
  w.Write(t, "key_message", MessageKey(topic, "billing", PartitionId(1), Offset(77)), 0);
  w.Write(t, "key_dead", DeadKey(topic, "billing", Offset(4)), 0);
  GroupRecord group{.topic = "orders", .created_at = kTime};
  group.config.ordering = Ordering::kPerKey;
  w.Write(t, "group_record", EncodeGroupRecord(group), 1);
  w.Write(t, "cursor_record", EncodeCursorRecord({.next_offset = Offset(12), .expired = 1}), 2);
  MessageRecord message{.state = EntryState::kLeased,
                        .attempts = 2,
                        .has_key = true,
                        .key_hash = 0x1234,
                        .member = "worker-1",
                        .lease_expires = kTime + milliseconds(30000),
                        .first_delivery = kTime,
                        .last_delivery = kTime,
                        .last_error = "timeout"};
  w.Write(t, "message_record", EncodeMessageRecord(message), 3);
  DeadRecord dead{.partition = PartitionId(1),
                  .offset = Offset(5),
                  .reason = "max_deliveries",
                  .last_error = "boom",
                  .attempts = 5,
                  .first_delivery = kTime,
                  .dead_at = kTime + milliseconds(9000)};
  w.Write(t, "dead_record", EncodeDeadRecord(dead), 4);
  const std::string encoded = EncodeDeadRecord(dead);
  w.Write(t, "dead_record_without_purged_byte", encoded.substr(0, encoded.size() - 1), 4);
  w.Write(t, "key_lease_run", LeaseRunKey(topic, "billing", PartitionId(1), Offset(100)), 0);
  LeaseRunRecord run{.member = "worker-1",
                     .lease_expires = kTime + milliseconds(30000),
                     .delivered_at = kTime,
                     .released = {true, false, false, true, false, false, false, false, true}};
  w.Write(t, "lease_run_record", EncodeLeaseRunRecord(run), 5);
}

void AuthSeeds(SeedWriter& w) {
  const std::string t = "auth_tokens_fuzzer";
  w.Write(t, "example",
          "# brokerd tokens\n"
          "s3cr3t-orders   publish,consume   orders.,payments.\n"
          "0ps-t0ken       admin\n"
          "\n"
          "reader consume # trailing comment\n");
  w.Write(t, "unknown_right", "tok publish,delete\n");
  w.Write(t, "missing_rights", "lonely-token\n");
}

void FlagsSeeds(SeedWriter& w) {
  const std::string t = "brokerd_flags_fuzzer";
  w.Write(t, "config_toml",
          "data-dir = \"/var/lib/brokerd\"\n"
          "listen = \"127.0.0.1:7070\"\n"
          "durability = \"async\"\n"
          "auto-create-topics = false\n"
          "max-message-bytes = 65536\n"
          "max-headers = 16\n"
          "max-frame-bytes = 4194304\n"
          "log-level = \"debug\"\n"
          "shutdown-grace-ms = 2000\n"
          "[section]\n"
          "tokens-file = \"tokens.txt\"\n",
          0);
  w.Write(t, "config_ini", "; ini style\ndurability=sync\nlog-level=warn\n", 0);
  const std::string argv[] = {"--data-dir",   "/tmp/d", "--listen",       "127.0.0.1:0",
                              "--durability", "sync",   "--tls-cert",     "c.pem",
                              "--tls-key",    "k.pem",  "--max-headers=8"};
  std::string joined;
  for (const std::string& a : argv) {
    if (!joined.empty()) joined.push_back('\0');
    joined += a;
  }
  w.Write(t, "command_line", joined, 1);
  w.Write(t, "command_line_bad_value", std::string("--durability\0maybe", 18), 1);
}

v1::OutgoingMessage Outgoing(std::string payload, std::string key = "") {
  v1::OutgoingMessage m;
  m.set_payload(std::move(payload));
  if (!key.empty()) m.set_key(std::move(key));
  return m;
}

void PublishSeeds(SeedWriter& w) {
  const std::string t = "publish_request_fuzzer";
  v1::PublishRequest request;
  request.set_topic("orders");
  *request.add_messages() = Outgoing("first", "customer-1");
  v1::OutgoingMessage* second = request.add_messages();
  *second = Outgoing("second");
  auto* header = second->add_headers();
  header->set_name("trace");
  header->set_value("xyz");
  second->set_idempotency_key("order-2");
  *request.add_messages() = *second;  // a duplicate within the batch
  request.set_durability(v1::DURABILITY_SYNC);
  w.Write(t, "batch_with_duplicate", request.SerializeAsString());
  v1::PublishRequest bad;
  bad.set_topic("bad topic!");
  *bad.add_messages() = Outgoing("x");
  w.Write(t, "bad_topic_name", bad.SerializeAsString());
}

// A session: create a topic and a group, publish, subscribe with credits, settle, let time pass.
void SessionSeeds(SeedWriter& w) {
  const std::string t = "service_session_fuzzer";
  Session s;
  auto* create = s.add_calls()->mutable_create_topic();
  create->set_name("orders");
  create->mutable_config()->set_partitions(2);
  auto* group = s.add_calls()->mutable_create_group();
  group->set_topic("orders");
  group->set_group("billing");
  group->mutable_config()->set_max_deliveries(2);
  group->mutable_config()->set_ack_timeout_ms(1000);
  group->mutable_config()->set_ordering(v1::ORDERING_PER_KEY);
  auto* publish = s.add_calls()->mutable_publish();
  publish->set_topic("orders");
  for (int i = 0; i < 4; ++i) {
    *publish->add_messages() = Outgoing("m" + std::to_string(i), "k" + std::to_string(i % 2));
  }
  auto* start = s.add_calls()->mutable_subscribe();
  start->set_stream(0);
  start->mutable_request()->mutable_start()->set_topic("orders");
  start->mutable_request()->mutable_start()->set_group("billing");
  auto* credit = s.add_calls()->mutable_subscribe();
  credit->mutable_request()->mutable_credit()->set_messages(10);
  auto settle = [&s](v1::SubscribeRequest::Settle::Op op, uint32_t partition, uint64_t offset) {
    auto* message = s.add_calls()->mutable_subscribe();
    auto* request = message->mutable_request()->mutable_settle();
    request->set_op(op);
    request->mutable_ref()->set_partition(partition);
    request->mutable_ref()->set_offset(offset);
    request->set_text("because");
    return request;
  };
  settle(v1::SubscribeRequest::Settle::OP_ACK, 0, 0);
  settle(v1::SubscribeRequest::Settle::OP_NACK, 1, 0)->set_delay_ms(500);
  settle(v1::SubscribeRequest::Settle::OP_EXTEND, 0, 1);
  settle(v1::SubscribeRequest::Settle::OP_REJECT, 1, 1);
  s.add_calls()->set_advance_ms(2000);
  auto* dead = s.add_calls()->mutable_list_dead_letters();
  dead->set_topic("orders");
  dead->set_group("billing");
  auto* redrive = s.add_calls()->mutable_redrive();
  redrive->set_topic("orders");
  redrive->set_group("billing");
  redrive->set_rate_per_second(10);
  s.add_calls()->mutable_close_stream()->set_stream(0);
  auto* reset = s.add_calls()->mutable_reset_group();
  reset->set_topic("orders");
  reset->set_group("billing");
  reset->set_offset(1);
  auto* describe = s.add_calls()->mutable_describe_group();
  describe->set_topic("orders");
  describe->set_group("billing");
  auto* read = s.add_calls()->mutable_read();
  read->set_topic("orders");
  auto* get = s.add_calls()->mutable_get_message();
  get->set_topic("orders");
  get->set_partition(1);
  auto* purge = s.add_calls()->mutable_purge_dead_letters();
  purge->set_topic("orders");
  purge->set_group("billing");
  w.Write(t, "lifecycle", s.SerializeAsString());

  Session per_partition;
  auto* sub = per_partition.add_calls()->mutable_subscribe();
  sub->set_stream(1);
  auto* st = sub->mutable_request()->mutable_start();
  st->set_topic("jobs");
  st->set_group("workers");
  st->set_member("w1");
  st->set_max_in_flight(1);
  st->mutable_group_config()->set_ordering(v1::ORDERING_PER_PARTITION);
  st->mutable_group_config()->set_start(v1::START_POSITION_LATEST);
  auto* pub = per_partition.add_calls()->mutable_publish();
  pub->set_topic("jobs");
  *pub->add_messages() = Outgoing("job");
  auto* cr = per_partition.add_calls()->mutable_subscribe();
  cr->set_stream(1);
  cr->mutable_request()->mutable_credit()->set_messages(5);
  cr->mutable_request()->mutable_credit()->set_replace(true);
  per_partition.add_calls()->set_advance_ms(60000);
  auto* del = per_partition.add_calls()->mutable_delete_topic();
  del->set_name("jobs");
  w.Write(t, "per_partition_auto_create", per_partition.SerializeAsString());
}

// Sessions that found undefined behaviour (durations overflowing on the way to microseconds, now
// refused or clamped; tests/unit/delivery/extreme_durations_test.cc), kept as seeds.
constexpr std::string_view kPublishTwo =
    R"(calls { publish { topic: "t" messages { payload: "a" } messages { payload: "b" } } })";
constexpr std::string_view kSubscribe =
    R"(calls { subscribe { request { start { topic: "t" group: "g" } } } }
       calls { subscribe { request { credit { messages: 5 } } } })";
constexpr std::string_view kRejectBoth =
    R"(calls { subscribe { request { settle { op: OP_REJECT ref { offset: 0 } text: "x" } } } }
       calls { subscribe { request { settle { op: OP_REJECT ref { offset: 1 } text: "x" } } } }
       calls { advance_ms: 10 })";

void RegressionSeeds(SeedWriter& w) {
  const std::string t = "service_session_fuzzer";
  const std::string publish(kPublishTwo), subscribe(kSubscribe), reject(kRejectBoth);
  const std::pair<std::string, std::string> sessions[] = {
      {"regress_ack_timeout_max",
       publish + R"(calls { subscribe { request { start { topic: "t" group: "g"
                      group_config { ack_timeout_ms: 9223372036854775807 } } } } }
                    calls { subscribe { request { credit { messages: 5 } } } })"},
      {"regress_backoff_max",
       publish + R"(calls { subscribe { request { start { topic: "t" group: "g"
                      group_config { backoff_max_ms: 9223372036854775807 } } } } }
                    calls { subscribe { request { credit { messages: 5 } } } }
                    calls { subscribe { request { settle { op: OP_NACK ref { offset: 0 } } } } })"},
      {"regress_nack_delay_max",
       publish + subscribe +
           R"(calls { subscribe { request { settle { op: OP_NACK ref { offset: 0 }
                delay_ms: 9223372036854775807 } } } }
              calls { subscribe { request { settle { op: OP_NACK ref { offset: 1 }
                delay_ms: -9223372036854775807 } } } })"},
      {"regress_dead_letter_filter_age", publish + subscribe + reject +
                                             R"(calls { purge_dead_letters { topic: "t" group: "g"
                filter { older_than_ms: 9223372036854775807 } } })"},
      {"regress_redrive_rate_tiny",
       publish + subscribe + reject +
           R"(calls { redrive { topic: "t" group: "g" rate_per_second: 1e-300 } })"},
      {"regress_retention_age_max",
       R"(calls { create_topic { name: "r" config { retention_age_ms: 9223372036854775807 } } }
          calls { publish { topic: "r" messages { payload: "a" } } }
          calls { advance_ms: 10 })"},
  };
  for (const auto& [name, text] : sessions) {
    Session session;
    if (!google::protobuf::TextFormat::ParseFromString(text, &session)) {
      std::fprintf(stderr, "fuzz_seeds: %s does not parse\n", name.c_str());
      std::exit(1);
    }
    w.Write(t, name, session.SerializeAsString());
  }
}

// Kafka request frames (header v1, v2 for ApiVersions v3) of the supported APIs (of the group APIs
// JoinGroup and OffsetCommit), and batches.
void KafkaSeeds(SeedWriter& w) {
  const std::string t = "kafka_request_fuzzer";
  auto frame = [](kafka::ApiKey key, int16_t version, auto&& body) {
    kafka::Writer out;
    out.Int16(static_cast<int16_t>(key));
    out.Int16(version);
    out.Int32(7);
    out.NullableString(std::string("seed"));
    if (kafka::IsFlexible(key, version)) out.EmptyTaggedFields();
    body(out);
    return out.Take();
  };
  const std::vector<kafka::KafkaRecord> records = {
      {.key = std::string("k"), .value = std::string("v"), .headers = {{"h", "1"}, {"h", ""}}},
      {.key = std::nullopt, .value = std::nullopt, .headers = {}}};
  const std::string plain = kafka::EncodeProducerBatch(records, false);
  const std::string gzip = kafka::EncodeProducerBatch(records, true);
  w.Write(t, "batch_plain", plain, 1);
  w.Write(t, "batch_gzip", gzip, 1);
  w.Write(t, "api_versions_v3",
          frame(kafka::ApiKey::kApiVersions, 3,
                [](kafka::Writer& b) {
                  b.CompactString("librdkafka");
                  b.CompactString("2.0.2");
                  b.EmptyTaggedFields();
                }),
          0);
  w.Write(t, "metadata_v6",
          frame(kafka::ApiKey::kMetadata, 6,
                [](kafka::Writer& b) {
                  b.Int32(2);
                  b.String("orders");
                  b.String("payments");
                  b.Bool(true);
                }),
          0);
  w.Write(t, "create_topics_v4",
          frame(kafka::ApiKey::kCreateTopics, 4,
                [](kafka::Writer& b) {
                  b.Int32(1);
                  b.String("orders");
                  b.Int32(3);
                  b.Int16(1);
                  b.Int32(0);
                  b.Int32(1);
                  b.String("retention.ms");
                  b.NullableString(std::string("60000"));
                  b.Int32(5000);
                  b.Bool(false);
                }),
          0);
  w.Write(t, "produce_v7",
          frame(kafka::ApiKey::kProduce, 7,
                [&](kafka::Writer& b) {
                  b.NullableString(std::nullopt);
                  b.Int16(-1);
                  b.Int32(30000);
                  b.Int32(1);
                  b.String("orders");
                  b.Int32(2);
                  b.Int32(0);
                  b.NullableBytes(std::string_view(plain));
                  b.Int32(1);
                  b.NullableBytes(std::string_view(gzip));
                }),
          0);
  w.Write(t, "fetch_v11",
          frame(kafka::ApiKey::kFetch, 11,
                [](kafka::Writer& b) {
                  b.Int32(-1);
                  b.Int32(500);
                  b.Int32(1);
                  b.Int32(52428800);
                  b.Int8(0);
                  b.Int32(0);
                  b.Int32(-1);
                  b.Int32(1);
                  b.String("orders");
                  b.Int32(1);
                  b.Int32(0);
                  b.Int32(-1);
                  b.Int64(0);
                  b.Int64(-1);
                  b.Int32(1048576);
                  b.Int32(0);
                  b.String("");
                }),
          0);
  w.Write(t, "list_offsets_v3",
          frame(kafka::ApiKey::kListOffsets, 3,
                [](kafka::Writer& b) {
                  b.Int32(-1);
                  b.Int8(0);
                  b.Int32(1);
                  b.String("orders");
                  b.Int32(1);
                  b.Int32(0);
                  b.Int64(-2);
                }),
          0);
  kafka::Writer subscription;  // ConsumerProtocolSubscription v0: topics "orders"
  subscription.Int16(0);
  subscription.Int32(1);
  subscription.String("orders");
  subscription.NullableBytes(std::nullopt);
  const std::string metadata = subscription.Take();
  w.Write(t, "join_group_v5",
          frame(kafka::ApiKey::kJoinGroup, 5,
                [&](kafka::Writer& b) {
                  b.String("billing");
                  b.Int32(30000);
                  b.Int32(60000);
                  b.String("");
                  b.NullableString(std::nullopt);
                  b.String("consumer");
                  b.Int32(1);
                  b.String("range");
                  b.NullableBytes(std::string_view(metadata));
                }),
          0);
  w.Write(t, "offset_commit_v7",
          frame(kafka::ApiKey::kOffsetCommit, 7,
                [](kafka::Writer& b) {
                  b.String("billing");
                  b.Int32(3);
                  b.String("member-1");
                  b.NullableString(std::nullopt);
                  b.Int32(1);
                  b.String("orders");
                  b.Int32(1);
                  b.Int32(0);
                  b.Int64(42);
                  b.Int32(-1);
                  b.NullableString(std::string("meta"));
                }),
          0);
}

}  // namespace
}  // namespace broker::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus root, e.g. tests/fuzz/corpus>\n", argv[0]);
    return 2;
  }
  broker::fuzz::SeedWriter w{std::filesystem::path(argv[1])};
  broker::fuzz::RecordCodecSeeds(w);
  broker::fuzz::TopicMetaSeeds(w);
  broker::fuzz::GroupRecordSeeds(w);
  broker::fuzz::AuthSeeds(w);
  broker::fuzz::FlagsSeeds(w);
  broker::fuzz::PublishSeeds(w);
  broker::fuzz::SessionSeeds(w);
  broker::fuzz::RegressionSeeds(w);
  broker::fuzz::KafkaSeeds(w);
  std::printf("fuzz_seeds: wrote %d files under %s\n", w.written(), argv[1]);
  return 0;
}
