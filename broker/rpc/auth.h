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
// A token with prefixes acts only on those topics, on every call: list calls show it only what
// lies under its prefixes (Scope), and calls that act on the whole broker (stats, backup) are
// refused to it (Check with an empty topic), whatever its rights.
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

// The topics a caller may see: every topic, or those starting with one of `prefixes`.
struct TopicScope {
  std::vector<std::string> prefixes;  // empty: every topic
  bool Allows(std::string_view topic) const;
};

class Authorizer {
 public:
  // Allows everything.
  Authorizer() = default;
  static Result<Authorizer> LoadFile(const std::string& path);
  static Result<Authorizer> Parse(std::string_view text);

  // kUnauthenticated (no or unknown token) or kPermissionDenied (missing right, or `topic` outside
  // the token's prefixes). An empty `topic` is a broker-wide call: refused to a token limited to
  // prefixes.
  Status Check(const grpc::ServerContextBase& context, Right right, std::string_view topic) const;
  // For calls that act on whichever topics the caller may see (list calls, request-reply inboxes):
  // the caller's scope, after the same checks of the token and the right.
  Result<TopicScope> Scope(const grpc::ServerContextBase& context, Right right) const;
  bool enabled() const { return enabled_; }

 private:
  struct Grant {
    int rights = 0;
    std::vector<std::string> prefixes;
  };
  // The grant of the caller's token, or why there is none (kUnauthenticated, kPermissionDenied).
  Result<const Grant*> Authenticate(const grpc::ServerContextBase& context, Right right) const;

  bool enabled_ = false;
  std::map<std::string, Grant, std::less<>> tokens_;
};

}  // namespace broker::rpc
