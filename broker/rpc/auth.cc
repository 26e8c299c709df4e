#include "rpc/auth.h"

#include <fstream>
#include <sstream>

namespace broker::rpc {
namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string_view RightName(Right right) {
  switch (right) {
    case Right::kPublish: return "publish";
    case Right::kConsume: return "consume";
    case Right::kAdmin: return "admin";
  }
  return "?";
}

std::string JoinQuoted(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "'" : ", '") + item + "'";
  return out;
}

}  // namespace

Result<Authorizer> Authorizer::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read tokens file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = Parse(text.str());
  if (!parsed.ok()) {
    return Status::InvalidArgument("tokens file '" + path + "': " + parsed.status().message());
  }
  return parsed;
}

Result<Authorizer> Authorizer::Parse(std::string_view text) {
  Authorizer auth;
  auth.enabled_ = true;
  std::stringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::stringstream fields(line);
    std::string token, rights, prefixes;
    if (!(fields >> token)) continue;
    if (!(fields >> rights)) {
      return Status::InvalidArgument("line " + std::to_string(number) +
                                     ": expected '<token> <rights> [<prefixes>]'");
    }
    fields >> prefixes;
    Grant grant;
    for (const std::string& r : SplitComma(rights)) {
      if (r == "publish") {
        grant.rights |= static_cast<int>(Right::kPublish);
      } else if (r == "consume") {
        grant.rights |= static_cast<int>(Right::kConsume);
      } else if (r == "admin") {
        grant.rights |= static_cast<int>(Right::kAdmin);
      } else {
        return Status::InvalidArgument("line " + std::to_string(number) + ": unknown right '" + r +
                                       "' (use publish, consume, admin)");
      }
    }
    grant.prefixes = SplitComma(prefixes);
    auth.tokens_[token] = std::move(grant);
  }
  return auth;
}

bool TopicScope::Allows(std::string_view topic) const {
  if (prefixes.empty()) return true;
  for (const std::string& prefix : prefixes) {
    if (topic.starts_with(prefix)) return true;
  }
  return false;
}

Result<const Authorizer::Grant*> Authorizer::Authenticate(const grpc::ServerContextBase& context,
                                                          Right right) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return Status::Unauthenticated("no token: send 'authorization: Bearer <token>'");
  }
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (!value.starts_with(kBearer)) {
    return Status::Unauthenticated("authorization metadata must be 'Bearer <token>'");
  }
  auto grant = tokens_.find(value.substr(kBearer.size()));
  if (grant == tokens_.end()) return Status::Unauthenticated("unknown token");
  if ((grant->second.rights & static_cast<int>(right)) == 0) {
    return Status::PermissionDenied("this token does not grant '" + std::string(RightName(right)) +
                                    "'");
  }
  return &grant->second;
}

Status Authorizer::Check(const grpc::ServerContextBase& context, Right right,
                         std::string_view topic) const {
  if (!enabled_) return Status::Ok();
  auto grant = Authenticate(context, right);
  if (!grant.ok()) return grant.status();
  const std::vector<std::string>& prefixes = (*grant)->prefixes;
  if (prefixes.empty()) return Status::Ok();
  if (topic.empty()) {
    return Status::PermissionDenied(
        "this token is limited to topics starting with " + JoinQuoted(prefixes) +
        "; this call acts on the whole broker and needs a token without topic prefixes");
  }
  if (TopicScope{prefixes}.Allows(topic)) return Status::Ok();
  return Status::PermissionDenied("this token is not allowed on topic '" + std::string(topic) +
                                  "' (it is limited to topics starting with " +
                                  JoinQuoted(prefixes) + ")");
}

Result<TopicScope> Authorizer::Scope(const grpc::ServerContextBase& context, Right right) const {
  if (!enabled_) return TopicScope{};
  auto grant = Authenticate(context, right);
  if (!grant.ok()) return grant.status();
  return TopicScope{(*grant)->prefixes};
}

}  // namespace broker::rpc
