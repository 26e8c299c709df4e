// LogWriter against an in-memory RocksDB: what a request that carries its resolved topic
// (AppendRequest::resolved_topic, set by PublishAsync) commits when the topic changed meanwhile,
// and that commits reusing the previous commits' buffers store exactly their own records.
#include "storage/log_writer.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <memory>

#include "broker/testing/fake_clock.h"
#include "storage/append_notifier.h"
#include "storage/log_reader.h"
#include "storage/storage_db.h"
#include "storage/topic_registry.h"

namespace broker::storage {
namespace {

class LogWriterTest : public ::testing::Test {
 protected:
  void Open(bool auto_create) {
    Options options;
    options.data_dir = "/log-writer-test";
    options.in_memory = true;
    options.background_work = false;
    auto db = StorageDb::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(registry_.Load(*db_).ok());
    WriterConfig config;
    config.auto_create_topics = auto_create;
    config.clock = clock_;
    writer_ = std::make_unique<LogWriter>(*db_, registry_, notifier_, config);
    writer_->Start();
  }

  void TearDown() override {
    if (writer_) writer_->Stop();
    writer_.reset();
    db_.reset();
  }

  Status CreateTopic(const std::string& name) {
    return writer_->RunExclusive([&] { return writer_->CreateTopicOnWriter(name, {}); });
  }
  Status DeleteTopic(const std::string& name) {
    return writer_->RunExclusive([&] { return writer_->DeleteTopicOnWriter(name); });
  }

  // Appends `messages` to `topic` (by name) in one request, so in one commit.
  Result<std::vector<PublishResult>> AppendNamed(const std::string& topic,
                                                 std::vector<Message> messages) {
    std::promise<Result<std::vector<PublishResult>>> promise;
    AppendRequest request;
    request.topic = topic;
    request.messages = std::move(messages);
    request.done = [&promise](Result<std::vector<PublishResult>> r) {
      promise.set_value(std::move(r));
    };
    if (Status s = writer_->Append(std::move(request)); !s.ok()) return s;
    return promise.get_future().get();
  }

  // Appends one message through a request that names its topic only by `resolved`.
  Result<std::vector<PublishResult>> AppendResolved(std::shared_ptr<TopicState> resolved) {
    std::promise<Result<std::vector<PublishResult>>> promise;
    AppendRequest request;
    request.resolved_topic = std::move(resolved);
    request.messages.push_back({.payload = "m"});
    request.done = [&promise](Result<std::vector<PublishResult>> r) {
      promise.set_value(std::move(r));
    };
    if (Status s = writer_->Append(std::move(request)); !s.ok()) return s;
    return promise.get_future().get();
  }

  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  std::unique_ptr<StorageDb> db_;
  TopicRegistry registry_;
  AppendNotifier notifier_;
  std::unique_ptr<LogWriter> writer_;
};

TEST_F(LogWriterTest, ResolvedTopicIsAppendedToWithoutAName) {
  Open(/*auto_create=*/false);
  ASSERT_TRUE(CreateTopic("t").ok());
  auto topic = registry_.Find("t");
  ASSERT_NE(topic, nullptr);
  for (uint64_t i = 0; i < 3; ++i) {
    auto r = AppendResolved(topic);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].offset, Offset(i));
  }
  EXPECT_EQ(topic->partitions[0]->end_offset.load(), 3u);
}

TEST_F(LogWriterTest, DeletedResolvedTopicIsNotAppendedToAndNotRecreatedWithAutoCreateOff) {
  Open(/*auto_create=*/false);
  ASSERT_TRUE(CreateTopic("t").ok());
  auto stale = registry_.Find("t");
  ASSERT_NE(stale, nullptr);
  ASSERT_TRUE(DeleteTopic("t").ok());

  auto r = AppendResolved(stale);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(stale->partitions[0]->end_offset.load(), 0u);
  EXPECT_EQ(registry_.Find("t"), nullptr);
}

TEST_F(LogWriterTest, DeletedResolvedTopicGoesToTheTopicNowOfThatName) {
  Open(/*auto_create=*/true);
  ASSERT_TRUE(CreateTopic("t").ok());
  auto stale = registry_.Find("t");
  ASSERT_NE(stale, nullptr);
  ASSERT_TRUE(AppendResolved(stale).ok());  // offset 0 of the first "t"
  ASSERT_TRUE(DeleteTopic("t").ok());
  ASSERT_TRUE(CreateTopic("t").ok());

  auto r = AppendResolved(stale);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].offset, Offset(0));  // the new topic's first record, not the old one's second
  auto now = registry_.Find("t");
  ASSERT_NE(now, nullptr);
  EXPECT_NE(now->record.id, stale->record.id);
  EXPECT_EQ(now->partitions[0]->end_offset.load(), 1u);
  EXPECT_EQ(stale->partitions[0]->end_offset.load(), 1u);
}

// The writer keeps its batch encoders' buffers from one commit to the next (and for more
// partitions than it keeps spares for): each commit must store exactly its own records.
TEST_F(LogWriterTest, CommitsReusingEncodersStoreExactlyTheirOwnRecords) {
  Open(/*auto_create=*/false);
  TopicConfig config;
  config.partitions = 12;  // more than the writer keeps spare encoders for
  ASSERT_TRUE(writer_->RunExclusive([&] { return writer_->CreateTopicOnWriter("t", config); }).ok());
  std::map<uint32_t, std::vector<std::string>> expected;  // partition -> payloads in offset order
  for (int commit = 0; commit < 4; ++commit) {
    std::vector<Message> messages;
    for (int i = 0; i < 48; ++i) {
      // Payloads of different sizes per commit, so a buffer left with an earlier commit's longer
      // record shows up as a wrong payload or a wrong count.
      messages.push_back({.key = "key-" + std::to_string(i),
                          .payload = std::to_string(commit) + "/" + std::to_string(i) +
                                     std::string(static_cast<size_t>(200 - 40 * commit), 'x')});
    }
    std::vector<Message> sent = messages;
    auto r = AppendNamed("t", std::move(messages));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
      auto& list = expected[(*r)[i].partition.value()];
      ASSERT_EQ((*r)[i].offset, Offset(list.size()));
      list.push_back(sent[i].payload);
    }
  }
  ASSERT_GT(expected.size(), 8u);  // the keys spread over more partitions than spare encoders
  auto topic = registry_.Find("t");
  ASSERT_NE(topic, nullptr);
  for (const auto& [partition, payloads] : expected) {
    ReadLimits limits;
    limits.max_records = 1000;
    auto read = ReadPartition(*db_, *topic, PartitionId(partition), Offset(0), limits);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    ASSERT_EQ(read->records.size(), payloads.size()) << "partition " << partition;
    for (size_t i = 0; i < payloads.size(); ++i) {
      EXPECT_EQ(read->records[i].payload, payloads[i]) << "partition " << partition << " #" << i;
    }
  }
}

}  // namespace
}  // namespace broker::storage
