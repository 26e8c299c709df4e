#include "connection.h"

#include <fstream>
#include <sstream>

namespace brokerctl {
namespace {

bool ReadFile(const std::string& path, const char* what, std::string* content, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::string("cannot read ") + what + " '" + path + "'";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  *content = text.str();
  return true;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The interesting part of gRPC's "failed to connect to all addresses; last error: ...".
std::string LastError(const std::string& message) {
  constexpr std::string_view kLast = "last error: ";
  const size_t at = message.find(kLast);
  return at == std::string::npos ? message : message.substr(at + kLast.size());
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "ok";
    case grpc::StatusCode::CANCELLED: return "cancelled";
    case grpc::StatusCode::UNKNOWN: return "unknown";
    case grpc::StatusCode::INVALID_ARGUMENT: return "invalid_argument";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "deadline_exceeded";
    case grpc::StatusCode::NOT_FOUND: return "not_found";
    case grpc::StatusCode::ALREADY_EXISTS: return "already_exists";
    case grpc::StatusCode::PERMISSION_DENIED: return "permission_denied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "resource_exhausted";
    case grpc::StatusCode::FAILED_PRECONDITION: return "failed_precondition";
    case grpc::StatusCode::ABORTED: return "aborted";
    case grpc::StatusCode::OUT_OF_RANGE: return "out_of_range";
    case grpc::StatusCode::UNIMPLEMENTED: return "unimplemented";
    case grpc::StatusCode::INTERNAL: return "internal";
    case grpc::StatusCode::UNAVAILABLE: return "unavailable";
    case grpc::StatusCode::DATA_LOSS: return "data_loss";
    case grpc::StatusCode::UNAUTHENTICATED: return "unauthenticated";
    case grpc::StatusCode::DO_NOT_USE: return "unknown";
  }
  return "unknown";
}

std::unique_ptr<Connection> Connection::Open(const GlobalOptions& options, std::string* error) {
  std::string token = options.token;
  if (token.empty() && !options.token_file.empty()) {
    if (!ReadFile(options.token_file, "token file", &token, error)) return nullptr;
    // The token is the first line, without surrounding whitespace.
    token = token.substr(0, token.find('\n'));
    const auto first = token.find_first_not_of(" \t\r");
    const auto last = token.find_last_not_of(" \t\r");
    token = first == std::string::npos ? "" : token.substr(first, last - first + 1);
    if (token.empty()) {
      *error = "token file '" + options.token_file + "' is empty";
      return nullptr;
    }
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  const bool tls = options.tls || !options.tls_ca.empty() || !options.tls_cert.empty() ||
                   !options.tls_key.empty();
  if (tls) {
    if (options.tls_cert.empty() != options.tls_key.empty()) {
      *error = "--tls-cert and --tls-key go together (a client certificate and its key)";
      return nullptr;
    }
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty() &&
        !ReadFile(options.tls_ca, "TLS CA bundle", &ssl.pem_root_certs, error)) {
      return nullptr;
    }
    if (!options.tls_cert.empty() &&
        (!ReadFile(options.tls_cert, "TLS certificate", &ssl.pem_cert_chain, error) ||
         !ReadFile(options.tls_key, "TLS key", &ssl.pem_private_key, error))) {
      return nullptr;
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  if (!options.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options.tls_server_name);
  }
  // brokerctl makes a handful of calls and exits: no retries behind the user's back, and give up
  // connecting quickly instead of backing off.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // Following commands (tail --follow) ride out a brokerd restart: reconnect within 2 s of it
  // being back rather than after gRPC's default backoff (up to 2 min).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  auto channel = grpc::CreateCustomChannel(options.addr, credentials, args);
  return std::unique_ptr<Connection>(new Connection(options, std::move(token), std::move(channel)));
}

Connection::Connection(const GlobalOptions& options, std::string token,
                       std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      token_(std::move(token)),
      channel_(std::move(channel)),
      admin_(broker::v1::AdminService::NewStub(channel_)),
      data_(broker::v1::BrokerService::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Connection::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + options_.timeout);
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  return context;
}

std::string Connection::Describe(const grpc::Status& status) const {
  const std::string& message = status.error_message();
  const std::string& addr = options_.addr;
  const bool tls = options_.tls || !options_.tls_ca.empty() || !options_.tls_cert.empty();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: {
      // Transport failures come from the gRPC library, not from brokerd: name the likely cause.
      if (Contains(message, "Connection refused")) {
        return "cannot reach brokerd at " + addr + ": connection refused; is it running?";
      }
      if (Contains(message, "DNS resolution failed") || Contains(message, "Name or service")) {
        return "cannot resolve the host of " + addr + "; check --addr or BROKER_ADDR";
      }
      if (Contains(message, "wrong version number")) {
        return "brokerd at " + addr + " does not speak TLS; drop --tls and the --tls-* flags";
      }
      if (Contains(message, "certificate verify failed")) {
        return "cannot verify the TLS certificate of brokerd at " + addr +
               "; pass the CA that signed it with --tls-ca (and --tls-server-name if the "
               "certificate names another host)";
      }
      if (Contains(message, "Peer name")) {
        return "the TLS certificate of brokerd at " + addr + " is not for that name (" +
               LastError(message) + "); set --tls-server-name to a name it has";
      }
      if (Contains(message, "Ssl handshake failed") || Contains(message, "andshake")) {
        return "TLS handshake with brokerd at " + addr + " failed (" + LastError(message) +
               "); check --tls-ca, --tls-cert, --tls-key and --tls-server-name";
      }
      if (!tls && Contains(message, "Socket closed")) {
        return "brokerd at " + addr +
               " closed the connection while it was being set up; if it uses TLS, add --tls-ca "
               "(or --tls)";
      }
      if (Contains(message, "failed to connect") || Contains(message, "Connection reset") ||
          Contains(message, "connections to all backends")) {
        return "cannot reach brokerd at " + addr + ": " + LastError(message) + "; is it running?";
      }
      return "brokerd at " + addr + " is unavailable: " + message + " (unavailable)";
    }
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "no answer from brokerd at " + addr + " within " + Seconds(options_.timeout) +
             "; is " + addr + " a brokerd? (raise --timeout if it is just slow)";
    case grpc::StatusCode::UNAUTHENTICATED:
      if (token_.empty()) {
        return "brokerd at " + addr + " requires a token (" + message +
               "); pass --token, --token-file or set BROKER_TOKEN";
      }
      return "brokerd at " + addr + " rejected the token (" + message +
             "); check --token, --token-file or BROKER_TOKEN";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "permission denied: " + message + "; use a token with the 'admin' right";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "brokerd at " + addr + " does not implement this call (" + message +
             "); is it an older version?";
    default:
      return message + " (" + StatusCodeName(status.error_code()) + ")";
  }
}

}  // namespace brokerctl
