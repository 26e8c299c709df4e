// Input checks that need no stored state: topic names, topic configs and message limits.
#include "storage/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace broker::storage {
namespace {

TEST(ValidateTopicNameTest, AcceptsAllowedCharacters) {
  EXPECT_TRUE(ValidateTopicName("orders").ok());
  EXPECT_TRUE(ValidateTopicName("a").ok());
  EXPECT_TRUE(ValidateTopicName("Orders.v2_EU-west-1").ok());
  EXPECT_TRUE(ValidateTopicName("0123456789").ok());
  EXPECT_TRUE(ValidateTopicName("...").ok());
}

TEST(ValidateTopicNameTest, LengthLimitIsExactly200) {
  EXPECT_TRUE(ValidateTopicName(std::string(200, 'a')).ok());
  const Status s = ValidateTopicName(std::string(201, 'a'));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("200"), std::string::npos) << s.message();
}

TEST(ValidateTopicNameTest, RejectsEmpty) {
  const Status s = ValidateTopicName("");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("empty"), std::string::npos) << s.message();
}

TEST(ValidateTopicNameTest, RejectsBadCharacters) {
  for (const std::string& name :
       {std::string("a b"), std::string("a/b"), std::string("a\\b"), std::string("a:b"),
        std::string("a*"), std::string("t\xc3\xa9st"),  // "tést" in UTF-8
        std::string("a\0b", 3), std::string("tab\t"), std::string("new\nline")}) {
    const Status s = ValidateTopicName(name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "name of " << name.size() << " bytes";
  }
}

TEST(ValidateTopicNameTest, MessageNamesTheOffendingCharacterPrintably) {
  const Status s = ValidateTopicName(std::string("a\0b", 3));
  EXPECT_NE(s.message().find("\\x00"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\0'), std::string::npos);
}

TEST(ValidateTopicConfigTest, PartitionBounds) {
  const Limits limits;
  EXPECT_EQ(ValidateTopicConfig({.partitions = 0}, limits).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateTopicConfig({.partitions = 1}, limits).ok());
  EXPECT_TRUE(ValidateTopicConfig({.partitions = kMaxPartitions}, limits).ok());
  EXPECT_EQ(ValidateTopicConfig({.partitions = kMaxPartitions + 1}, limits).code(),
            StatusCode::kInvalidArgument);
}

TEST(ValidateTopicConfigTest, NegativeRetentionAgeIsRejected) {
  EXPECT_EQ(ValidateTopicConfig({.retention_age = std::chrono::milliseconds(-1)}, Limits{}).code(),
            StatusCode::kInvalidArgument);
}

// Found by service_session_fuzzer: retention computes now - retention_age in microseconds, which
// overflowed (undefined behaviour) for ages near the int64 range of milliseconds.
TEST(ValidateTopicConfigTest, RetentionAgeIsAtMost100Years) {
  EXPECT_TRUE(ValidateTopicConfig({.retention_age = kMaxDuration}, Limits{}).ok());
  EXPECT_EQ(ValidateTopicConfig({.retention_age = kMaxDuration + std::chrono::milliseconds(1)},
                                Limits{})
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicConfig({.retention_age = std::chrono::milliseconds::max()}, Limits{})
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(ValidateTopicConfigTest, EachRetentionPolicyTakesOnlyItsOwnSizeSetting) {
  EXPECT_TRUE(ValidateTopicConfig({.retention_bytes = 10}, Limits{}).ok());
  EXPECT_TRUE(
      ValidateTopicConfig({.retention = RetentionPolicy::kInterest, .max_bytes = 10}, Limits{})
          .ok());
  EXPECT_TRUE(ValidateTopicConfig({.retention = RetentionPolicy::kInterest,
                                   .retention_age = std::chrono::hours(1)},
                                  Limits{})
                  .ok());
  const Status cap_on_limits = ValidateTopicConfig({.max_bytes = 10}, Limits{});
  EXPECT_EQ(cap_on_limits.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cap_on_limits.message().find("interest"), std::string::npos);
  EXPECT_EQ(ValidateTopicConfig(
                {.retention = RetentionPolicy::kInterest, .retention_bytes = 10}, Limits{})
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(ValidateTopicConfigTest, TopicMaxMessageSizeMayNotExceedTheBrokerLimit) {
  const Limits limits{.max_message_bytes = 1000};
  EXPECT_TRUE(ValidateTopicConfig({.max_message_bytes = 1000}, limits).ok());
  EXPECT_TRUE(ValidateTopicConfig({.max_message_bytes = 0}, limits).ok());  // 0 = broker's
  EXPECT_EQ(ValidateTopicConfig({.max_message_bytes = 1001}, limits).code(),
            StatusCode::kInvalidArgument);
}

class ValidateMessageTest : public ::testing::Test {
 protected:
  const Limits limits_{.max_message_bytes = 100,
                       .max_headers = 3,
                       .max_header_bytes = 20,
                       .max_batch_messages = 10,
                       .max_idempotency_key_bytes = 8};

  Status Check(const Message& m) { return ValidateMessage(m, limits_, limits_.max_message_bytes); }
};

TEST_F(ValidateMessageTest, SizeExactlyAtTheLimitIsAccepted) {
  EXPECT_TRUE(Check(Message{.payload = std::string(100, 'x')}).ok());
  // Key, payload and headers all count.
  EXPECT_TRUE(Check(Message{.key = std::string(10, 'k'),
                            .payload = std::string(80, 'x'),
                            .headers = {{"hh", "12345678"}}})
                  .ok());
}

TEST_F(ValidateMessageTest, OneByteOverTheLimitIsRejected) {
  const Status s = Check(Message{.payload = std::string(101, 'x')});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("101"), std::string::npos) << s.message();
  EXPECT_EQ(Check(Message{.key = std::string(11, 'k'),
                          .payload = std::string(80, 'x'),
                          .headers = {{"hh", "12345678"}}})
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ValidateMessageTest, TheEffectiveLimitIsTheOnePassedIn) {
  const Message m{.payload = std::string(50, 'x')};
  EXPECT_TRUE(ValidateMessage(m, limits_, 50).ok());
  EXPECT_EQ(ValidateMessage(m, limits_, 49).code(), StatusCode::kInvalidArgument);
}

TEST_F(ValidateMessageTest, TooManyHeaders) {
  Message m{.payload = "p", .headers = {{"a", ""}, {"b", ""}, {"c", ""}}};
  EXPECT_TRUE(Check(m).ok());
  m.headers.emplace_back("d", "");
  const Status s = Check(m);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("headers"), std::string::npos) << s.message();
}

TEST_F(ValidateMessageTest, HeaderBytesLimit) {
  EXPECT_TRUE(Check(Message{.payload = "p", .headers = {{"name", std::string(16, 'v')}}}).ok());
  EXPECT_EQ(Check(Message{.payload = "p", .headers = {{"name", std::string(17, 'v')}}}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ValidateMessageTest, EmptyHeaderNameIsRejected) {
  EXPECT_EQ(Check(Message{.payload = "p", .headers = {{"", "v"}}}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ValidateMessageTest, IdempotencyKeyLength) {
  EXPECT_TRUE(Check(Message{.payload = "p", .idempotency_key = std::string(8, 'i')}).ok());
  const Status s = Check(Message{.payload = "p", .idempotency_key = std::string(9, 'i')});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("idempotency"), std::string::npos) << s.message();
}

TEST_F(ValidateMessageTest, BinaryPayloadAndEmptyPayloadAreFine) {
  EXPECT_TRUE(Check(Message{.payload = std::string("\0\xff\n", 3)}).ok());
  EXPECT_TRUE(Check(Message{}).ok());
}

}  // namespace
}  // namespace broker::storage
