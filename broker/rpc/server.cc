#include "rpc/server.h"

#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "rpc/admin_service.h"
#include "rpc/broker_service.h"
#include "rpc/call_log.h"
#include "rpc/executor.h"
#include "rpc/host_port.h"

namespace broker::rpc {
namespace {

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(std::string("cannot read ") + what + " '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

struct BrokerServer::Impl {
  Impl(Broker& broker, size_t threads, Authorizer a, std::string data_dir)
      : auth(std::move(a)),
        executor(threads),
        broker_service(broker, executor, auth),
        admin_service(broker, executor, auth, std::move(data_dir)) {}
  Authorizer auth;
  Executor executor;
  BrokerServiceImpl broker_service;
  AdminServiceImpl admin_service;
  std::unique_ptr<grpc::Server> server;
  std::string address;
  std::once_flag shutdown_once;
};

BrokerServer::BrokerServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BrokerServer::~BrokerServer() { Shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<BrokerServer>> BrokerServer::Start(Broker& broker, const ServerConfig& config,
                                                          Authorizer auth, std::string data_dir) {
  std::string error;
  const auto listen = net::ParseHostPort(config.listen, "--listen", std::nullopt, &error);
  if (!listen) return Status::InvalidArgument(error);
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (!config.tls_cert.empty() || !config.tls_key.empty()) {
    if (config.tls_cert.empty() || config.tls_key.empty()) {
      return Status::InvalidArgument("TLS needs both a certificate and a key");
    }
    auto cert = ReadFile(config.tls_cert, "TLS certificate");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(config.tls_key, "TLS key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!config.tls_client_ca.empty()) {
      auto ca = ReadFile(config.tls_client_ca, "client CA");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    credentials = grpc::InsecureServerCredentials();
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto impl = std::make_unique<Impl>(broker, config.executor_threads, std::move(auth),
                                     std::move(data_dir));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, credentials, &port);
  // gRPC sets SO_REUSEPORT by default, which lets a second brokerd bind a port this one holds and
  // then receive half of its clients' calls (on another data directory). One daemon per port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(config.max_receive_bytes);
  builder.RegisterService(&impl->broker_service);
  builder.RegisterService(&impl->admin_service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(NewCallLogFactory());  // one log line per call: rpc/call_log.h
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  impl->server = builder.BuildAndStart();
  if (!impl->server || port == 0) {
    std::string reason = net::BindFailureReason(*listen);
    if (reason.empty()) reason = "gRPC refused the address (see its log above)";
    return Status::Unavailable("cannot listen on " + config.listen + ": " + reason +
                               "; choose another --listen");
  }
  net::HostPort bound = *listen;
  bound.port = port;
  impl->address = bound.ToString();
  return std::unique_ptr<BrokerServer>(new BrokerServer(std::move(impl)));
}

const std::string& BrokerServer::address() const { return impl_->address; }

void BrokerServer::Shutdown(std::chrono::milliseconds grace) {
  std::call_once(impl_->shutdown_once, [&] {
    impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
    impl_->executor.Stop();
  });
}

void BrokerServer::Wait() { impl_->server->Wait(); }

}  // namespace broker::rpc
