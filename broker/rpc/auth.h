// Bearer-token authorisation for brokerd.
//
// Tokens file: one token per line, `<token> <rights> [<topic prefixes>]`, where rights is a
// comma-separated subset of publish,consume,admin and prefixes (optional) a comma-separated list
// limiting the token to topics starting with one of them. '#' starts a comment.
//
//   s3cr3t-orders   publish,consume   orders.,payments.
//   0ps-t0ken       admin
//
// Clients send `authorization: Bearer <token>` metadata. Without a tokens file every call is
// allowed (loopback default).
//
// Thread safety: immutable after Load.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/server_context.h>

#include "broker/status.h"

namespace broker::rpc {

enum class Right { kPublish = 1, kConsume = 2, kAdmin = 4 };

class Authorizer {
 public:
  // Allows everything.
  Authorizer() = default;
  static Result<Authorizer> LoadFile(const std::string& path);
  static Result<Authorizer> Parse(std::string_view text);

  // kUnauthenticated (no or unknown token) or kPermissionDenied (missing right, or `topic` outside
  // the token's prefixes; an empty topic means "not topic-specific").
  Status Check(const grpc::ServerContextBase& context, Right right, std::string_view topic) const;
  bool enabled() const { return enabled_; }

 private:
  struct Grant {
    int rights = 0;
    std::vector<std::string> prefixes;
  };
  bool enabled_ = false;
  std::map<std::string, Grant, std::less<>> tokens_;
};

}  // namespace broker::rpc
