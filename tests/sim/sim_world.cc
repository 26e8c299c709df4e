#include "sim_world.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "engine/broker_impl.h"

namespace broker::sim {

SimWorld::SimWorld(std::string dir, Options options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  fs_ = std::make_shared<testing::FaultFileSystem>(rocksdb::FileSystem::Default());
  fs_->set_foreground_only(true);
  env_ = rocksdb::NewCompositeEnv(fs_);
  options_.data_dir = dir_ + "/data";
  options_.in_memory = false;
  options_.background_work = false;
  options_.clock = clock_;
}

SimWorld::~SimWorld() {
  Close();
  env_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status SimWorld::Open() {
  auto opened = BrokerImpl::Open(options_, env_.get());
  if (!opened.ok()) return opened.status();
  broker_ = std::move(opened).value();
  return Status::Ok();
}

void SimWorld::Close() {
  members_.clear();
  broker_.reset();
}

uint64_t SimWorld::LosePower() {
  fs_->CutPower();
  Close();
  return fs_->RestorePower();
}

}  // namespace broker::sim
