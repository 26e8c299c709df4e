// Requester: the requesting half of request-reply. One inbox per client (opened on first use)
// multiplexes the replies of every pending request by correlation id; a timer thread fails the
// requests whose timeout passes.
//
// Thread safety: mu_ guards everything mutable; promises are fulfilled outside it. open_mu_
// serialises opening the inbox (a transport round trip), which happens outside mu_; lock order
// open_mu_ -> mu_.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "broker/client/client.h"
#include "stats_signal.h"

namespace broker::client::internal {

class Requester {
 public:
  Requester(Transport& transport, std::shared_ptr<Clock> clock);
  ~Requester();  // Close()

  std::future<Result<Reply>> Request(std::string_view topic, std::string payload,
                                     std::chrono::milliseconds timeout, Headers headers);
  // Fails every pending request with kCancelled and stops the timer thread.
  void Close();
  ClientStats stats() const;
  bool WaitForStats(const std::function<bool(const ClientStats&)>& condition,
                    std::chrono::milliseconds timeout) const;

 private:
  struct Pending {
    std::promise<Result<Reply>> promise;
    std::chrono::steady_clock::time_point deadline;
  };
  // The inbox's handler may run on another thread while the requester closes; it reaches the
  // requester only through this sink, which Close() disconnects.
  struct ReplySink {
    std::mutex mu;
    Requester* target = nullptr;  // guarded by mu
  };
  // The open inbox, opened first if there is none (mu_ not held).
  Result<std::shared_ptr<Inbox>> CurrentInbox();
  void OnReply(Message reply);
  // The inbox was lost (brokerd restarted): fail what waits on it; the next request opens anew.
  void OnInboxLost(const Status& status);
  // Ends a pending request with `result`: a reply (counted late if the request has ended) or a
  // failure to publish it.
  void Complete(const std::string& correlation_id, Result<Reply> result, bool is_reply);
  void TimerLoop();

  Transport& transport_;
  const std::shared_ptr<Clock> clock_;

  std::mutex open_mu_;  // held while opening the inbox; never taken under mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Shared: a request being published holds it outside mu_.
  std::shared_ptr<Inbox> inbox_;  // guarded by mu_
  std::unordered_map<std::string, Pending> pending_;    // guarded by mu_
  std::multimap<std::chrono::steady_clock::time_point, std::string> deadlines_;  // guarded by mu_
  // When the timer thread wakes next (max: not before a request arrives); guarded by mu_.
  std::chrono::steady_clock::time_point timer_wakes_at_ = std::chrono::steady_clock::time_point::min();
  bool closed_ = false;                                 // guarded by mu_
  uint64_t next_id_ = 0;                                // guarded by mu_
  uint64_t requests_ = 0;                               // guarded by mu_
  uint64_t late_replies_ = 0;                           // guarded by mu_
  std::thread timer_;
  std::shared_ptr<ReplySink> sink_ = std::make_shared<ReplySink>();
  // Told after requests_ or late_replies_ change, outside mu_ (its waiters' condition takes mu_).
  mutable StatsSignal stats_signal_;
};

}  // namespace broker::client::internal
