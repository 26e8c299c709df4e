// Flags shared by every brokerctl command (set on the root command, accepted after any
// subcommand too).
#pragma once

#include <chrono>
#include <string>

namespace brokerctl {

struct GlobalOptions {
  // brokerd's host:port. Default 127.0.0.1:7070; env BROKER_ADDR.
  std::string addr = "127.0.0.1:7070";
  // Bearer token (env BROKER_TOKEN), or a file holding it (env BROKER_TOKEN_FILE). Default none.
  std::string token;
  std::string token_file;
  // TLS: on with --tls or any of the files below. tls_ca: PEM roots to verify brokerd (default:
  // the system's); tls_cert/tls_key: client certificate for mutual TLS; tls_server_name: the name
  // to verify brokerd's certificate against instead of the host in --addr.
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  // Deadline of every call. Default 5 s.
  std::chrono::milliseconds timeout{5000};
  // Machine-readable output (stable field names) instead of tables.
  bool json = false;
};

// Exit codes scripts can rely on.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the command ran and failed: brokerd unreachable, unknown name, refused ...
  kExitUsage = 2,    // bad flags or arguments, or a destructive command without --yes
};

}  // namespace brokerctl
