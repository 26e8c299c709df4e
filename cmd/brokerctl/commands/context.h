// Context: what every command gets: the global flags, the output streams, a lazily opened
// Connection, and one way to report failures (text on stderr, or a JSON error object on stderr
// with --json; stdout then stays empty so scripts never parse half an answer).
//
// Thread safety: single-threaded, like brokerctl.
#pragma once

#include <iostream>
#include <memory>
#include <string>

#include "connection.h"
#include "global_options.h"
#include "output/json.h"

namespace brokerctl {

namespace v1 = broker::v1;
using AdminStub = v1::AdminService::Stub;

class Context {
 public:
  Context(const GlobalOptions& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  const GlobalOptions& options() const { return options_; }
  bool json() const { return options_.json; }
  std::ostream& out() { return out_; }

  // The connection, opened on first use; nullptr (after printing why) if the flags' files cannot
  // be read.
  Connection* Connect();

  // Calls an AdminService method. On failure prints what went wrong and returns false.
  template <typename Request, typename Response>
  bool Admin(grpc::Status (AdminStub::*method)(grpc::ClientContext*, const Request&, Response*),
             const Request& request, Response* response) {
    Connection* conn = Connect();
    if (conn == nullptr) return false;
    grpc::Status status = conn->Call(conn->admin(), method, request, response);
    if (!status.ok()) RpcFailed(status);
    return status.ok();
  }

  // Prints a failed call (see Connection::Describe) and returns kExitFailure.
  int RpcFailed(const grpc::Status& status);
  // Prints `message` and returns kExitFailure; `code` names the failure in JSON errors.
  int Fail(const std::string& message, const std::string& code = "failed");
  // Prints `message` and returns kExitUsage (bad arguments, a missing --yes, ...).
  int Usage(const std::string& message);
  // Prints a note on stderr that is not a failure (e.g. "brokerd went away, retrying"); nothing
  // with --json, whose stderr carries only errors.
  void Note(const std::string& message);

  // Prints `value` as indented JSON followed by a newline (stable key order).
  void PrintJson(const Json& value);
  // Prints `value` on one line (for streams of objects, e.g. `tail --json`).
  void PrintJsonLine(const Json& value);

 private:
  int Report(const std::string& message, const std::string& code, int exit_code);

  const GlobalOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace brokerctl
