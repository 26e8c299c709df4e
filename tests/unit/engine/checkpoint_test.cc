// Broker::Checkpoint: a copy taken while the broker runs opens as a data directory holding what
// was committed before it; bad targets are refused with clear codes.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine_test_util.h"

namespace broker::testing {
namespace {

TEST(CheckpointTest, TheCopyOpensWithEverythingCommittedBeforeIt) {
  ScopedTempDir dir;
  ScopedTempDir backups;
  std::filesystem::create_directories(backups.path());
  const std::string copy = backups.path() + "/copy";
  auto clock = std::make_shared<FakeClock>();
  {
    auto opened = Broker::Open(DiskOptions(dir, clock));
    ASSERT_OK(opened);
    for (int i = 0; i < 5; ++i) ASSERT_OK((*opened)->Publish("t", {.payload = std::to_string(i)}));
    auto bytes = (*opened)->Checkpoint(copy);
    ASSERT_OK(bytes);
    EXPECT_GT(*bytes, 0u);
    ASSERT_OK((*opened)->Publish("t", {.payload = "after"}));
  }
  Options options = DiskOptions(dir, clock);
  options.data_dir = copy;
  auto restored = Broker::Open(options);
  ASSERT_OK(restored);
  auto records = ReadAll(**restored, "t", PartitionId(0));
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 5u);
  EXPECT_EQ(records->back().payload, "4");
}

TEST(CheckpointTest, RefusesBadTargetsAndInMemoryBrokers) {
  ScopedTempDir dir;
  auto clock = std::make_shared<FakeClock>();
  auto opened = Broker::Open(DiskOptions(dir, clock));
  ASSERT_OK(opened);
  EXPECT_EQ((*opened)->Checkpoint("relative").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*opened)->Checkpoint(dir.path()).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ((*opened)->Checkpoint(dir.path() + "-missing-parent/copy").status().code(),
            StatusCode::kInvalidArgument);

  auto in_memory = Broker::Open(TestOptions(clock));
  ASSERT_OK(in_memory);
  EXPECT_EQ((*in_memory)->Checkpoint(dir.path() + "-mem").status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace broker::testing
