#include "nats_connection.h"

#include <charconv>
#include <future>

#include "nats_names.h"
#include "storage/partitioner.h"

namespace broker::client::nats_internal {
namespace {

// Handler kept alive until libnats says it will not call it again (natsSubscription_SetOnCompleteCB).
struct HandlerBox {
  AsyncSubscription::Handler handler;
};

void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  NatsMsgPtr owned(msg);
  static_cast<HandlerBox*>(closure)->handler(msg);
}

void OnComplete(void* closure) { delete static_cast<HandlerBox*>(closure); }

std::vector<std::string> ServerList(std::string_view address) {
  // "nats://a:1,nats://b:2" (bare host:port entries are accepted too).
  std::vector<std::string> out;
  while (!address.empty()) {
    const auto comma = address.find(',');
    std::string_view one = address.substr(0, comma);
    address = comma == std::string_view::npos ? std::string_view() : address.substr(comma + 1);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one.empty()) continue;
    out.push_back(one.find("://") == std::string_view::npos ? "nats://" + std::string(one)
                                                            : std::string(one));
  }
  return out;
}

// libnats calls the closed callback on its own thread, possibly after the NatsConnection it was
// given is gone (our destructor closes the connection too). The callback reaches a connection only
// through this registry, which the destructor leaves before closing. The callback's closure is the
// connection's id, never reused: keyed by address, a late callback of a destroyed connection
// reached the next one allocated at the same address and failed its inboxes and publishes ("the
// connection to NATS was closed"), which a test under load saw.
std::mutex live_mu;
std::map<uintptr_t, NatsConnection*>& LiveConnections() {  // guarded by live_mu
  static auto* live = new std::map<uintptr_t, NatsConnection*>();  // never destroyed: callbacks
  return *live;                                                     // may run at exit
}

// "No responders" to a publish right after its stream was created: resend this often, for this
// long, before reporting that no stream stores the subject.
constexpr std::chrono::milliseconds kResendDelay(10);
constexpr std::chrono::milliseconds kNoRespondersGrace(2000);
// Wait of one stream create/info API call in EnsureTopic (retried until call_timeout).
constexpr std::chrono::milliseconds kStreamApiWait(2000);

}  // namespace

Result<std::unique_ptr<AsyncSubscription>> AsyncSubscription::Open(natsConnection* nc,
                                                                   const std::string& subject,
                                                                   const std::string& queue,
                                                                   Handler handler) {
  auto* box = new HandlerBox{std::move(handler)};
  natsSubscription* sub = nullptr;
  natsStatus s = queue.empty()
                     ? natsConnection_Subscribe(&sub, nc, subject.c_str(), OnMessage, box)
                     : natsConnection_QueueSubscribe(&sub, nc, subject.c_str(), queue.c_str(),
                                                     OnMessage, box);
  if (s != NATS_OK) {
    delete box;
    return FromNats(s, "subscribing to " + subject);
  }
  s = natsSubscription_SetOnCompleteCB(sub, OnComplete, box);
  if (s != NATS_OK) {
    // Without the completion callback the box cannot be freed safely: keep it (a few bytes).
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return FromNats(s, "subscribing to " + subject);
  }
  // Unlimited pending messages: a slow handler must not make libnats drop acknowledgements.
  natsSubscription_SetPendingLimits(sub, -1, -1);
  return std::unique_ptr<AsyncSubscription>(new AsyncSubscription(sub));
}

AsyncSubscription::~AsyncSubscription() {
  natsSubscription_Unsubscribe(sub_);
  natsSubscription_Destroy(sub_);
}

Result<std::shared_ptr<NatsConnection>> NatsConnection::Open(const NatsTransportOptions& options) {
  if (options.call_timeout.count() <= 0) {
    return Status::InvalidArgument("call_timeout must be positive");
  }
  if (options.subject_prefix.empty() ||
      options.subject_prefix.find_first_of(" \t.*>") != std::string::npos) {
    return Status::InvalidArgument("subject_prefix must be one non-empty token without '.', '*', "
                                   "'>' or spaces");
  }
  const std::vector<std::string> servers = ServerList(options.address);
  if (servers.empty()) return Status::InvalidArgument("the NATS address is empty");
  std::vector<const char*> server_ptrs;
  for (const auto& server : servers) server_ptrs.push_back(server.c_str());

  std::shared_ptr<NatsConnection> conn(new NatsConnection(options));
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s != NATS_OK) return FromNats(s, "creating NATS options");
  const int64_t reconnect_wait_ms = 250;
  s = natsOptions_SetServers(opts, server_ptrs.data(), static_cast<int>(server_ptrs.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.call_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, reconnect_wait_ms);
  if (s == NATS_OK) {
    // libnats counts attempts per server; spread reconnect_for over them.
    const int64_t attempts = std::max<int64_t>(1, options.reconnect_for.count() / reconnect_wait_ms);
    s = natsOptions_SetMaxReconnect(opts, static_cast<int>(std::min<int64_t>(attempts, 1 << 30)));
  }
  // Publishes made while reconnecting are buffered (8 MiB) and sent once connected again.
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, 8 << 20);
  if (s == NATS_OK) {
    s = natsOptions_SetClosedCB(opts, &NatsConnection::OnClosed,
                                reinterpret_cast<void*>(conn->live_id_));
  }
  {
    std::lock_guard lock(live_mu);
    LiveConnections().emplace(conn->live_id_, conn.get());
  }
  if (s == NATS_OK) s = natsConnection_Connect(&conn->nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    conn->nc_ = nullptr;
    return FromNats(s, "connecting to NATS at " + options.address);
  }

  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options.call_timeout.count();
  s = natsConnection_JetStream(&conn->js_, conn->nc_, &js_options);
  if (s != NATS_OK) return FromNats(s, "opening a JetStream context");

  natsInbox* inbox = nullptr;
  s = natsInbox_Create(&inbox);
  if (s != NATS_OK) return FromNats(s, "creating an inbox");
  conn->ack_prefix_ = std::string(inbox) + ".";
  natsInbox_Destroy(inbox);
  std::weak_ptr<NatsConnection> weak = conn;
  auto acks = AsyncSubscription::Open(conn->nc_, conn->ack_prefix_ + "*", "",
                                      [weak](natsMsg* msg) {
                                        if (auto self = weak.lock()) self->OnAck(msg);
                                      });
  if (!acks.ok()) return acks.status();
  conn->ack_sub_ = std::move(acks).value();
  conn->timer_ = std::thread([raw = conn.get()] { raw->TimerLoop(); });
  return conn;
}

void NatsConnection::Retire(std::unique_ptr<AsyncSubscription> sub) {
  // Bounded: the oldest retired inbox is unsubscribed for good once kMaxRetired newer ones are
  // kept; by then its unsubscribe has long reached every server.
  constexpr size_t kMaxRetired = 64;
  std::unique_ptr<AsyncSubscription> oldest;
  {
    std::lock_guard lock(mu_);
    retired_.push_back(std::move(sub));
    if (retired_.size() > kMaxRetired) {
      oldest = std::move(retired_.front());
      retired_.erase(retired_.begin());
    }
  }
}

NatsConnection::~NatsConnection() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  FailAll(Status::Cancelled("the NATS transport was closed"));
  {
    // Waits for a closed callback in progress; later ones find this connection gone.
    std::lock_guard lock(live_mu);
    LiveConnections().erase(live_id_);
  }
  ack_sub_.reset();
  std::vector<std::unique_ptr<AsyncSubscription>> retired;
  {
    std::lock_guard lock(mu_);
    retired.swap(retired_);
  }
  retired.clear();  // unsubscribed while the connection is still open
  if (nc_ != nullptr) {
    natsConnection_FlushTimeout(nc_, 1000);  // acks and naks just sent reach the server
    natsConnection_Close(nc_);
  }
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
}

uintptr_t NatsConnection::NextLiveId() {
  static std::atomic<uintptr_t> next{1};
  return next.fetch_add(1);
}

void NatsConnection::OnClosed(natsConnection*, void* closure) {
  std::lock_guard live(live_mu);
  auto it = LiveConnections().find(reinterpret_cast<uintptr_t>(closure));
  if (it == LiveConnections().end()) return;  // closed by our destructor
  NatsConnection* self = it->second;
  std::map<uint64_t, std::function<void()>> listeners;
  {
    std::lock_guard lock(self->mu_);
    listeners.swap(self->closed_listeners_);
  }
  self->FailAll(Status::Unavailable("the connection to NATS was closed (every server was lost)"));
  for (auto& [id, listener] : listeners) listener();
}

void NatsConnection::FailAll(const Status& status) {
  std::unordered_map<uint64_t, Pending> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_);
    timers_.clear();
  }
  for (auto& [id, p] : pending) p.done(PubAck{status, 0, false});
}

Result<TopicInfo> NatsConnection::EnsureTopic(std::string_view topic) {
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it != topics_.end()) return it->second;
  }
  const std::string stream = StreamName(topic);
  std::vector<std::string> subjects;
  for (uint32_t p = 0; p < std::max<uint32_t>(1, options_.default_partitions); ++p) {
    subjects.push_back(PartitionSubject(options_.subject_prefix, topic, p));
  }
  std::vector<const char*> subject_ptrs;
  for (const auto& subject : subjects) subject_ptrs.push_back(subject.c_str());
  const std::string description = "broker topic " + std::string(topic);
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = stream.c_str();
  config.Description = description.c_str();
  config.Subjects = subject_ptrs.data();
  config.SubjectsLen = static_cast<int>(subject_ptrs.size());
  config.Storage = js_FileStorage;
  config.Retention = js_LimitsPolicy;
  config.Discard = js_DiscardOld;
  config.Replicas = options_.replicas;
  config.Duplicates =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.dedupe_window).count();
  // Short API waits, retried until call_timeout: while another client creates the same stream,
  // JetStream may leave an info request unanswered.
  jsOptions api;
  jsOptions_Init(&api);
  api.Wait = std::min<int64_t>(kStreamApiWait.count(), timeout_ms());
  const auto deadline = std::chrono::steady_clock::now() + options_.call_timeout;
  Status last;
  jsStreamInfo* info = nullptr;
  for (auto pause = std::chrono::milliseconds(20);; pause = std::min(pause * 2, kStreamApiWait)) {
    // Creating a stream that exists with the same configuration succeeds and returns its info;
    // one created with another configuration (another partition count, say) is looked up.
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&info, js_, &config, &api, &jerr);
    if (s == NATS_OK) break;
    last = FromNats(s, "creating stream " + stream + " for topic " + std::string(topic), jerr);
    jsErrCode info_err = static_cast<jsErrCode>(0);
    s = js_GetStreamInfo(&info, js_, stream.c_str(), &api, &info_err);
    if (s == NATS_OK) break;
    info = nullptr;
    if (std::chrono::steady_clock::now() + pause >= deadline) return last;
    std::this_thread::sleep_for(pause);  // a conflict that clears in milliseconds: back off
  }
  TopicInfo topic_info;
  topic_info.partitions =
      info->Config != nullptr && info->Config->SubjectsLen > 0
          ? static_cast<uint32_t>(info->Config->SubjectsLen)
          : 1;
  topic_info.round_robin = std::make_shared<std::atomic<uint64_t>>(0);
  jsStreamInfo_Destroy(info);
  std::lock_guard lock(mu_);
  return topics_.emplace(std::string(topic), topic_info).first->second;
}

void NatsConnection::ForgetTopicOfSubject(std::string_view subject) {
  std::lock_guard lock(mu_);
  for (auto it = topics_.begin(); it != topics_.end(); ++it) {
    const std::string prefix = PartitionSubject(options_.subject_prefix, it->first, 0);
    if (subject.substr(0, prefix.size() - 1) == std::string_view(prefix).substr(0, prefix.size() - 1)) {
      topics_.erase(it);
      return;
    }
  }
}

void NatsConnection::ForgetTopic(std::string_view topic) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) topics_.erase(it);
}

uint32_t NatsConnection::ChoosePartition(const Message& message, const TopicInfo& topic) {
  if (topic.partitions <= 1) return 0;
  if (message.key) return storage::PartitionForKey(*message.key, topic.partitions).value();
  if (!message.idempotency_key.empty()) {
    return storage::PartitionForKey(message.idempotency_key, topic.partitions).value();
  }
  return static_cast<uint32_t>(topic.round_robin->fetch_add(1) % topic.partitions);
}

void NatsConnection::PublishAsync(const std::string& subject, const Message& message,
                                  AckCallback done) {
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      done(PubAck{Status::Cancelled("the NATS transport was closed"), 0, false});
      return;
    }
    id = next_id_++;
    const auto deadline = std::chrono::steady_clock::now() + options_.call_timeout;
    Pending pending;
    pending.done = std::move(done);
    pending.deadline = deadline;
    pending.subject = subject;
    pending.message = message;
    pending_.emplace(id, std::move(pending));
    timers_.emplace(deadline, id);
  }
  cv_.notify_all();
  Send(id, subject, message);
}

void NatsConnection::Send(uint64_t id, const std::string& subject, const Message& message) {
  auto msg = EncodeMessage(subject, ack_prefix_ + std::to_string(id), message);
  Status status = msg.status();
  if (msg.ok()) {
    status = FromNats(natsConnection_PublishMsg(nc_, msg->get()), "publishing to " + subject);
  }
  if (!status.ok()) Fail(id, std::move(status));
}

void NatsConnection::Fail(uint64_t id, Status status) {
  Pending failed;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // already answered, timed out or failed by a close
    failed = std::move(it->second);
    pending_.erase(it);
  }
  failed.done(PubAck{std::move(status), 0, false});
}

PubAck NatsConnection::PublishSync(const std::string& subject, const Message& message) {
  auto promise = std::make_shared<std::promise<PubAck>>();
  auto future = promise->get_future();
  PublishAsync(subject, message, [promise](PubAck ack) { promise->set_value(std::move(ack)); });
  return future.get();  // the timer bounds the wait to call_timeout
}

void NatsConnection::ScheduleResend(uint64_t id, Pending& pending) {
  pending.resend_at = std::chrono::steady_clock::now() + kResendDelay;
  timers_.emplace(pending.resend_at, id);
  cv_.notify_all();
}

void NatsConnection::OnAck(natsMsg* msg) {
  const std::string_view subject = natsMsg_GetSubject(msg);
  uint64_t id = 0;
  const auto token = subject.substr(std::min(subject.size(), ack_prefix_.size()));
  std::from_chars(token.data(), token.data() + token.size(), id);
  Pending pending;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // timed out already
    if (natsMsg_IsNoResponders(msg)) {
      const auto now = std::chrono::steady_clock::now();
      Pending& p = it->second;
      if (p.no_responders_since == std::chrono::steady_clock::time_point{}) {
        p.no_responders_since = now;
      }
      if (now - p.no_responders_since < kNoRespondersGrace && now + kResendDelay < p.deadline) {
        ScheduleResend(id, p);
        return;
      }
      pending = std::move(p);
      pending_.erase(it);
    } else {
      pending = std::move(it->second);
      pending_.erase(it);
    }
    // Its timer entries stay; the timer skips ids that are no longer pending.
  }
  if (pending.no_responders_since != std::chrono::steady_clock::time_point{} &&
      natsMsg_IsNoResponders(msg)) {
    ForgetTopicOfSubject(pending.subject);
    pending.done(PubAck{Status::Unavailable("no JetStream stream stores subject " +
                                            pending.subject + " (was the topic's stream deleted?)"),
                        0, false});
    return;
  }
  const char* data = natsMsg_GetData(msg);
  pending.done(ParsePubAck(std::string_view(data == nullptr ? "" : data,
                                            static_cast<size_t>(natsMsg_GetDataLength(msg)))));
}

void NatsConnection::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto next = timers_.begin()->first;
    const auto now = std::chrono::steady_clock::now();
    if (now < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    const uint64_t id = timers_.begin()->second;
    timers_.erase(timers_.begin());
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending& pending = it->second;
    if (pending.resend_at != std::chrono::steady_clock::time_point{} && pending.resend_at <= now &&
        now < pending.deadline) {
      pending.resend_at = {};
      const std::string subject = pending.subject;
      const Message message = pending.message;
      lock.unlock();
      Send(id, subject, message);
      lock.lock();
      continue;
    }
    if (now < pending.deadline) continue;  // a stale resend entry
    Pending expired = std::move(pending);
    pending_.erase(it);
    lock.unlock();
    expired.done(PubAck{Status::DeadlineExceeded(
                            "JetStream did not acknowledge the publish within " +
                            std::to_string(options_.call_timeout.count()) +
                            " ms; it may or may not be stored (retry with an idempotency key)"),
                        0, false});
    lock.lock();
  }
}

Status NatsConnection::PublishText(const std::string& subject, std::string_view text) {
  const natsStatus s = natsConnection_Publish(nc_, subject.c_str(), text.data(),
                                              static_cast<int>(text.size()));
  return FromNats(s, "publishing to " + subject);
}

uint64_t NatsConnection::AddClosedListener(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_listener_++;
  closed_listeners_.emplace(id, std::move(listener));
  return id;
}

void NatsConnection::RemoveClosedListener(uint64_t id) {
  std::lock_guard lock(mu_);
  closed_listeners_.erase(id);
}

bool NatsConnection::RegisterMember(const std::string& key) {
  std::lock_guard lock(mu_);
  return members_.insert(key).second;
}

void NatsConnection::UnregisterMember(const std::string& key) {
  std::lock_guard lock(mu_);
  members_.erase(key);
}

}  // namespace broker::client::nats_internal
