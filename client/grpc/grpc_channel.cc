#include "grpc_channel.h"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "rpc/status_mapping.h"

namespace broker::client::grpc_internal {
namespace {

Result<std::shared_ptr<grpc::Channel>> CreateChannel(const GrpcTransportOptions& options);

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<std::shared_ptr<grpc::Channel>> MakeChannel(const GrpcTransportOptions& options) {
  // Channels are cached for the life of the process and never destroyed: gRPC 1.51 tears down
  // its shared callback completion queue when the last channel goes, and a callback of a call
  // that just ended can still be running then ("assertion failed: prior > 0" in
  // grpc_cq_internal_unref). Reusing channels is what gRPC recommends anyway.
  static std::mutex cache_mu;
  static auto* cache = new std::map<std::string, std::shared_ptr<grpc::Channel>>();
  const std::string cache_key = options.address + "|" + options.tls_ca_file + "|" +
                                options.tls_cert_file + "|" + options.tls_key_file + "|" +
                                std::to_string(options.connection);
  {
    std::lock_guard lock(cache_mu);
    auto it = cache->find(cache_key);
    if (it != cache->end()) return it->second;
  }
  auto created = CreateChannel(options);
  if (!created.ok()) return created.status();
  std::lock_guard lock(cache_mu);
  return cache->try_emplace(cache_key, *created).first->second;
}

namespace {
Result<std::shared_ptr<grpc::Channel>> CreateChannel(const GrpcTransportOptions& options) {
  std::string target = options.address;
  if (target.starts_with("grpc://")) target = target.substr(7);
  if (target.empty()) return Status::InvalidArgument("brokerd address is empty");
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    auto ca = ReadFile(options.tls_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    if (!options.tls_cert_file.empty()) {
      auto cert = ReadFile(options.tls_cert_file);
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(options.tls_key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Reconnect quickly after a brokerd restart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (options.connection != 0) {
    // Channels with equal arguments share subchannels (one TCP connection); a local pool and a
    // distinguishing argument give this one its own.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("broker.connection", options.connection);
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}
}  // namespace

void PrepareContext(grpc::ClientContext& context, const GrpcTransportOptions& options,
                    std::chrono::milliseconds timeout) {
  if (!options.token.empty()) context.AddMetadata("authorization", "Bearer " + options.token);
  if (timeout.count() > 0) {
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    // Only with a deadline: a stream without one would wait for brokerd forever.
    context.set_wait_for_ready(options.wait_for_ready);
  }
}

Status CallStatus(const grpc::Status& status, const GrpcTransportOptions& options) {
  Status s = rpc::FromGrpc(status);
  if (s.code() == StatusCode::kUnavailable) {
    return Status::Unavailable("cannot reach brokerd at " + options.address + ": " + s.message());
  }
  return s;
}

}  // namespace broker::client::grpc_internal
