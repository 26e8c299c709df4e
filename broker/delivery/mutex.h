// Mutex and MutexLock: std::mutex and a scoped lock with thread-safety annotations, so a clang
// build checks that every member marked BROKER_GUARDED_BY is touched only with its mutex held
// (libstdc++'s std::mutex carries no annotations).
//
// Thread safety: Mutex is a mutex; a MutexLock belongs to the thread that made it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "delivery/thread_annotations.h"

namespace broker::delivery {

class BROKER_CAPABILITY("mutex") Mutex {
 public:
  void Lock() BROKER_ACQUIRE() { mu_.lock(); }
  void Unlock() BROKER_RELEASE() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds `mu` from construction to destruction, except between Unlock and Lock. The waits release
// it while they wait and hold it again when they return. (No waits with a predicate: the analysis
// cannot see that a predicate runs under the lock; callers loop instead.)
class BROKER_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) BROKER_ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() BROKER_RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Lock() BROKER_ACQUIRE() { lock_.lock(); }
  void Unlock() BROKER_RELEASE() { lock_.unlock(); }
  void Wait(std::condition_variable& cv) { cv.wait(lock_); }
  void WaitUntil(std::condition_variable& cv, std::chrono::steady_clock::time_point deadline) {
    cv.wait_until(lock_, deadline);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace broker::delivery
