#include "kafka/producer_sequences.h"

#include <algorithm>
#include <chrono>

namespace broker::kafka {

int64_t ProducerSequences::NewProducerId() {
  const int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_->Now().time_since_epoch())
          .count();
  std::lock_guard lock(mu_);
  last_id_ = std::max(last_id_ + 1, now_us);
  return last_id_;
}

ErrorCode ProducerSequences::Check(int64_t producer_id, int16_t epoch, const std::string& topic,
                                   int32_t partition, int32_t base_sequence, int32_t count) {
  if (base_sequence < 0 || epoch < 0) return ErrorCode::kInvalidRecord;
  const TimePoint now = clock_->Now();
  std::lock_guard lock(mu_);
  auto [it, added] = sequences_.try_emplace({producer_id, topic, partition});
  State& s = it->second;
  if (added) {
    s.lru = lru_.insert(lru_.end(), it);
  } else {
    lru_.splice(lru_.end(), lru_, s.lru);
  }
  s.last_used = now;
  ExpireLocked(now, it);
  const int64_t end = static_cast<int64_t>(base_sequence) + count;
  if (added || epoch > s.epoch) {
    s.epoch = epoch;
    s.next_sequence = end;
    return ErrorCode::kNone;
  }
  if (epoch < s.epoch) return ErrorCode::kInvalidProducerEpoch;
  if (base_sequence > s.next_sequence) return ErrorCode::kOutOfOrderSequenceNumber;
  s.next_sequence = std::max(s.next_sequence, end);
  return ErrorCode::kNone;
}

void ProducerSequences::ExpireLocked(TimePoint now, Map::iterator keep) {
  while (!lru_.empty() && lru_.front() != keep) {
    const Map::iterator oldest = lru_.front();
    const bool idle = now - oldest->second.last_used >= limits_.idle_timeout;
    if (!idle && sequences_.size() <= limits_.max_tracked) return;
    lru_.pop_front();
    sequences_.erase(oldest);
  }
}

size_t ProducerSequences::tracked() {
  std::lock_guard lock(mu_);
  return sequences_.size();
}

std::string ProducerSequences::DedupeKey(int64_t producer_id, int16_t epoch,
                                         const std::string& topic, int32_t partition,
                                         int64_t sequence) {
  return "kafka/" + std::to_string(producer_id) + "/" + std::to_string(epoch) + "/" + topic + "/" +
         std::to_string(partition) + "/" + std::to_string(sequence);
}

}  // namespace broker::kafka
