// Connection: one gRPC channel to brokerd with the flags' credentials (TLS, bearer token) and
// deadline, the stubs brokerctl calls, and the translation of a failed call into a message a
// person can act on ("cannot reach brokerd at 127.0.0.1:7070: connection refused; is it
// running?").
//
// Thread safety: not shared between threads (brokerctl is single-threaded).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "broker/v1/admin.grpc.pb.h"
#include "broker/v1/broker.grpc.pb.h"
#include "global_options.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace brokerctl {

class Connection {
 public:
  // Builds the channel (does not connect yet: the first call does). Fails, with `error` set, only
  // if a file named by the flags (token, TLS) cannot be read or is empty.
  static std::unique_ptr<Connection> Open(const GlobalOptions& options, std::string* error);

  broker::v1::AdminService::Stub& admin() { return *admin_; }
  broker::v1::BrokerService::Stub& data() { return *data_; }
  grpc::health::v1::Health::Stub& health() { return *health_; }

  // A fresh context for one call: deadline now + --timeout, and the bearer token if any.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // Calls a unary method of `stub` with a fresh context:
  //   conn.Call(conn.admin(), &AdminService::Stub::ListTopics, request, &response)
  template <typename Stub, typename Request, typename Response>
  grpc::Status Call(Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) const {
    auto context = NewContext();
    return (stub.*method)(context.get(), request, response);
  }

  // What went wrong, for a person: says whether brokerd could not be reached, did not answer in
  // time, refused the token, or answered with an error (its message, then the code in
  // parentheses, e.g. "group 'x' does not exist on topic 'orders' (not_found)").
  std::string Describe(const grpc::Status& status) const;

  const GlobalOptions& options() const { return options_; }
  // The bearer token the flags resolved to (--token, --token-file, BROKER_TOKEN...); empty: none.
  const std::string& token() const { return token_; }

 private:
  Connection(const GlobalOptions& options, std::string token,
             std::shared_ptr<grpc::Channel> channel);

  const GlobalOptions options_;
  const std::string token_;  // empty: no authorization metadata
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<broker::v1::AdminService::Stub> admin_;
  std::unique_ptr<broker::v1::BrokerService::Stub> data_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// "not_found" for grpc::StatusCode::NOT_FOUND: the code names JSON errors carry.
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace brokerctl
