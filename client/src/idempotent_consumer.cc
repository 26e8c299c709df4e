// ProcessedStore on RocksDB: "i/<id>" -> sequence, "s/<sequence BE64>" -> id; the sequence index
// finds the oldest ids to forget once the store holds more than its capacity.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "broker/client/headers.h"
#include "broker/client/idempotent.h"

namespace broker::client {
namespace {

std::string SequenceKey(uint64_t seq) {
  std::string key = "s/";
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(seq >> (8 * i)));
  return key;
}

uint64_t ParseSequence(std::string_view key) {
  uint64_t seq = 0;
  for (size_t i = 2; i < key.size(); ++i) seq = (seq << 8) | static_cast<unsigned char>(key[i]);
  return seq;
}

class RocksProcessedStore final : public ProcessedStore {
 public:
  RocksProcessedStore(std::unique_ptr<rocksdb::DB> db, size_t capacity)
      : db_(std::move(db)), capacity_(capacity) {}

  Status Load() {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
    for (it->Seek("s/"); it->Valid() && it->key().starts_with("s/"); it->Next()) {
      const uint64_t seq = ParseSequence(it->key().ToStringView());
      if (count_ == 0) oldest_ = seq;
      next_ = seq + 1;
      ++count_;
    }
    return it->status().ok() ? Status::Ok()
                             : Status::Unavailable("reading processed ids: " + it->status().ToString());
  }

  Result<bool> Contains(std::string_view id) override {
    std::string value;
    rocksdb::Status s = db_->Get({}, "i/" + std::string(id), &value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return Status::Unavailable("reading processed ids: " + s.ToString());
    return true;
  }

  Status Add(std::string_view id) override {
    std::lock_guard lock(mu_);
    rocksdb::WriteBatch batch;
    const std::string seq_key = SequenceKey(next_);
    batch.Put("i/" + std::string(id), seq_key);
    batch.Put(seq_key, std::string(id));
    uint64_t evicted = 0;
    for (; count_ + 1 - evicted > capacity_; ++evicted) {
      std::string old_id;
      const std::string old_key = SequenceKey(oldest_ + evicted);
      if (db_->Get({}, old_key, &old_id).ok()) {
        batch.Delete("i/" + old_id);
        batch.Delete(old_key);
      }
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    rocksdb::Status s = db_->Write(write_options, &batch);
    if (!s.ok()) return Status::Unavailable("recording a processed id: " + s.ToString());
    if (count_ == 0) oldest_ = next_;
    ++next_;
    count_ = count_ + 1 - evicted;
    oldest_ += evicted;
    return Status::Ok();
  }

  size_t size() const override {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  const std::unique_ptr<rocksdb::DB> db_;
  const size_t capacity_;
  mutable std::mutex mu_;
  uint64_t next_ = 0;    // guarded by mu_
  uint64_t oldest_ = 0;  // guarded by mu_
  size_t count_ = 0;     // guarded by mu_
};

// Ids being processed right now, so a concurrent duplicate waits for the first outcome.
class InProgress {
 public:
  void Enter(const std::string& id) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !ids_.contains(id); });
    ids_.insert(id);
  }
  void Leave(const std::string& id) {
    {
      std::lock_guard lock(mu_);
      ids_.erase(id);
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> ids_;  // guarded by mu_
};

}  // namespace

Result<std::shared_ptr<ProcessedStore>> ProcessedStore::Open(const std::string& directory,
                                                             size_t capacity) {
  if (capacity == 0) return Status::InvalidArgument("processed-id store capacity must be positive");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, directory, &raw);
  if (!s.ok()) {
    return Status::Unavailable("opening processed-id store '" + directory + "': " + s.ToString());
  }
  auto store = std::make_shared<RocksProcessedStore>(std::unique_ptr<rocksdb::DB>(raw), capacity);
  if (Status loaded = store->Load(); !loaded.ok()) return loaded;
  return std::shared_ptr<ProcessedStore>(std::move(store));
}

std::string MessageIdOf(const ReceivedMessage& message) {
  if (auto id = message.Header(kMessageIdHeader); id && !id->empty()) return std::string(*id);
  // The position alone repeats once the topic is deleted and created again (offsets restart at
  // 0); its publish time (broker clock, microseconds, the same in every delivery) tells the two
  // incarnations apart.
  return message.topic + "/" + std::to_string(message.record.partition.value()) + "/" +
         std::to_string(message.record.offset.value()) + "@" +
         std::to_string(message.record.timestamp.time_since_epoch().count());
}

Client::Handler IdempotentHandler(std::shared_ptr<ProcessedStore> store, Client::Handler handler) {
  auto in_progress = std::make_shared<InProgress>();
  return [store = std::move(store), handler = std::move(handler),
          in_progress](const ReceivedMessage& message) {
    const std::string id = MessageIdOf(message);
    in_progress->Enter(id);
    struct LeaveOnExit {
      InProgress& p;
      const std::string& id;
      ~LeaveOnExit() { p.Leave(id); }
    } leave{*in_progress, id};
    auto seen = store->Contains(id);
    if (!seen.ok()) throw std::runtime_error(seen.status().ToString());
    if (*seen) return;  // already processed: ack without running the handler again
    handler(message);
    if (Status s = store->Add(id); !s.ok()) throw std::runtime_error(s.ToString());
  };
}

}  // namespace broker::client
