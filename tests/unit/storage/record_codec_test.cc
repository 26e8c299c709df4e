#include "storage/record_codec.h"

#include <gtest/gtest.h>

namespace broker::storage {
namespace {

TEST(RecordCodecTest, RoundTripsRecordsWithAndWithoutKeys) {
  BatchEncoder encoder;
  Message a{.key = "k1", .payload = "hello", .headers = {{"h", "v"}, {"h", "w"}}};
  Message b{.payload = std::string("\0bin\xff", 5)};
  encoder.Add(a, TimePoint(std::chrono::microseconds(10)));
  encoder.Add(b, TimePoint(std::chrono::microseconds(20)));
  EXPECT_EQ(encoder.max_timestamp(), TimePoint(std::chrono::microseconds(20)));
  const std::string value = encoder.Finish();

  BatchDecoder decoder(value);
  ASSERT_EQ(decoder.count(), 2u);
  RecordView view;
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_TRUE(view.has_key);
  EXPECT_EQ(view.key, "k1");
  EXPECT_EQ(view.payload, "hello");
  Headers headers;
  ASSERT_TRUE(DecodeHeaders(view, headers));
  EXPECT_EQ(headers, a.headers);
  ASSERT_TRUE(decoder.Next(view));
  EXPECT_FALSE(view.has_key);
  EXPECT_EQ(view.payload, b.payload);
  EXPECT_EQ(view.timestamp, TimePoint(std::chrono::microseconds(20)));
  EXPECT_FALSE(decoder.Next(view));
  EXPECT_FALSE(decoder.corrupt());
}

TEST(RecordCodecTest, TruncatedValueIsReportedCorrupt) {
  BatchEncoder encoder;
  encoder.Add(Message{.payload = "payload"}, TimePoint{});
  std::string value = encoder.Finish();
  value.resize(value.size() - 3);
  BatchDecoder decoder(value);
  RecordView view;
  EXPECT_FALSE(decoder.Next(view));
  EXPECT_TRUE(decoder.corrupt());
}

}  // namespace
}  // namespace broker::storage
