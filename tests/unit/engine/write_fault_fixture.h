// WriteFaultTest: a fixture owning a broker on disk whose RocksDB writes go through a
// FaultFileSystem (fault_file_system.h), on a FakeClock. Shared by the write-fault tests of the
// log (write_fault_test.cc) and of group state (group_write_fault_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <rocksdb/env.h>

#include "broker/broker.h"
#include "engine/broker_impl.h"
#include "engine_test_util.h"
#include "fault_file_system.h"

namespace broker::testing {

class WriteFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<FaultFileSystem>(rocksdb::FileSystem::Default());
    env_ = rocksdb::NewCompositeEnv(fs_);
    // "blocks" in the path: an I/O error message naming a file here must not be taken for a
    // held LOCK file.
    options_ = DiskOptions(dir_, clock_);
    options_.data_dir = dir_.path() + "/blocks/data";
    ASSERT_NO_FATAL_FAILURE(Open());
  }
  void TearDown() override {
    fs_->ClearFault();
    broker_.reset();
  }
  void Open() {
    broker_.reset();
    auto opened = BrokerImpl::Open(options_, env_.get());
    ASSERT_OK(opened);
    broker_ = std::move(opened).value();
  }

  // Publishes "ack-0".."ack-<n-1>" and checks they landed at offsets 0..n-1.
  void PublishAcknowledged(int n) {
    for (int i = 0; i < n; ++i) {
      auto pos = broker_->Publish("t", {.payload = "ack-" + std::to_string(i)});
      ASSERT_OK(pos);
      ASSERT_EQ(pos->offset, Offset(i));
    }
  }

  // Payloads of partition 0 of "t" in offset order; checks offsets are dense from 0 and match the
  // described end offset.
  std::vector<std::string> StoredPayloads() {
    auto info = broker_->DescribeTopic("t");
    EXPECT_OK(info);
    auto records = ReadAll(*broker_, "t", PartitionId(0));
    EXPECT_OK(records);
    std::vector<std::string> payloads;
    if (!info.ok() || !records.ok()) return payloads;
    EXPECT_EQ(info->partitions[0].end_offset, Offset(records->size()));
    for (size_t i = 0; i < records->size(); ++i) {
      EXPECT_EQ((*records)[i].offset, Offset(i));
      payloads.push_back((*records)[i].payload);
    }
    return payloads;
  }

  ScopedTempDir dir_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<FaultFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  Options options_;
  std::unique_ptr<Broker> broker_;  // closed before env_ and fs_ go
};

}  // namespace broker::testing
