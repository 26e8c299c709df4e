// Helpers shared by the engine tests: brokers on a FakeClock, temporary data directories,
// readable failure output for engine types.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "broker/options.h"
#include "broker/status.h"
#include "broker/testing/fake_clock.h"
#include "broker/types.h"
#include "storage/partitioner.h"

namespace broker {

// gtest prints these on failure instead of raw bytes.
template <typename Tag, typename Rep>
void PrintTo(const StrongInt<Tag, Rep>& v, std::ostream* os) {
  *os << v.value();
}
inline void PrintTo(StatusCode code, std::ostream* os) { *os << StatusCodeName(code); }
inline void PrintTo(const PublishResult& r, std::ostream* os) {
  *os << "{partition " << r.partition.value() << ", offset " << r.offset.value()
      << (r.duplicate ? ", duplicate}" : "}");
}

namespace testing {

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

// ASSERT_OK(expr) / EXPECT_OK(expr) for a Status or a Result, printing the status on failure.
#define ASSERT_OK(expr)                                                 \
  do {                                                                  \
    const auto& assert_ok_value_ = (expr);                              \
    ASSERT_TRUE(assert_ok_value_.ok())                                  \
        << ::broker::testing::StatusOf(assert_ok_value_).ToString();    \
  } while (false)
#define EXPECT_OK(expr)                                                 \
  do {                                                                  \
    const auto& expect_ok_value_ = (expr);                              \
    EXPECT_TRUE(expect_ok_value_.ok())                                  \
        << ::broker::testing::StatusOf(expect_ok_value_).ToString();    \
  } while (false)

// Options of a deterministic test broker: in memory, no background thread, time from `clock`.
inline Options TestOptions(std::shared_ptr<FakeClock> clock) {
  Options options;
  options.data_dir = "test-broker";
  options.in_memory = true;
  options.background_work = false;
  options.clock = std::move(clock);
  return options;
}

// A directory under ::testing::TempDir() unique to this process and object; removed on
// destruction.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "broker-";
    if (info != nullptr) name += std::string(info->test_suite_name()) + "-" + info->name() + "-";
    name += std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = std::filesystem::path(::testing::TempDir()) / name;
    std::filesystem::remove_all(path_);
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Options of a broker on disk in `dir`, otherwise as TestOptions.
inline Options DiskOptions(const ScopedTempDir& dir, std::shared_ptr<FakeClock> clock) {
  Options options = TestOptions(std::move(clock));
  options.in_memory = false;
  options.data_dir = dir.path();
  return options;
}

// Publishes `message`, and if it was refused for a full disk (an injected fault, now cleared),
// once more after the broker's recovery from it: RocksDB recovers by itself, checking the free
// space every 5 s (storage/storage_db.cc). Returns the last answer.
inline Result<PublishResult> PublishOnceWritable(Broker& broker, std::string_view topic,
                                                 const Message& message) {
  auto result = broker.Publish(topic, message);
  if (result.ok() || result.status().code() != StatusCode::kResourceExhausted) return result;
  if (Status s = broker.WaitUntilDiskWritable(std::chrono::seconds(20)); !s.ok()) return s;
  return broker.Publish(topic, message);
}

// Every retained record of a partition, read in pages of at most `page` records.
inline Result<std::vector<Record>> ReadAll(Broker& broker, std::string_view topic,
                                           PartitionId partition, size_t page = 1000) {
  std::vector<Record> out;
  Offset next(0);
  for (;;) {
    auto r = broker.Read(topic, partition, next, {.max_records = page, .max_bytes = 64 << 20});
    if (!r.ok()) return r.status();
    for (Record& record : r->records) out.push_back(std::move(record));
    if (r->records.empty() || out.back().offset.value() + 1 >= r->end_offset.value()) break;
    next = out.back().offset + 1;
  }
  return out;
}

// A key that PartitionForKey maps to `partition` of `partitions`.
// One retention pass (Broker::RunRetention): the records it deleted, or UINT64_MAX (and a test
// failure) if it failed.
inline uint64_t RetentionPass(Broker& broker) {
  auto deleted = broker.RunRetention();
  EXPECT_OK(deleted);
  return deleted.ok() ? *deleted : UINT64_MAX;
}

inline std::string KeyForPartition(PartitionId partition, uint32_t partitions) {
  for (int i = 0;; ++i) {
    std::string key = "key-" + std::to_string(i);
    if (storage::PartitionForKey(key, partitions) == partition) return key;
  }
}

}  // namespace testing
}  // namespace broker
