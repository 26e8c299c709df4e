#include "commands/context.h"

namespace brokerctl {

Connection* Context::Connect() {
  if (connection_) return connection_.get();
  std::string error;
  connection_ = Connection::Open(options_, &error);
  if (!connection_) Fail(error, "bad_configuration");
  return connection_.get();
}

int Context::RpcFailed(const grpc::Status& status) {
  std::string message = connection_ ? connection_->Describe(status) : status.error_message();
  const std::string code = StatusCodeName(status.error_code());
  // JSON errors carry the code in its own field.
  const std::string suffix = " (" + code + ")";
  if (options_.json && message.ends_with(suffix)) message.resize(message.size() - suffix.size());
  return Report(message, code, kExitFailure);
}

int Context::Fail(const std::string& message, const std::string& code) {
  return Report(message, code, kExitFailure);
}

int Context::Usage(const std::string& message) { return Report(message, "usage", kExitUsage); }

void Context::Note(const std::string& message) {
  if (options_.json) return;
  out_.flush();
  err_ << "brokerctl: " << message << '\n';
  err_.flush();
}

int Context::Report(const std::string& message, const std::string& code, int exit_code) {
  out_.flush();
  if (options_.json) {
    Json error = {{"error", {{"code", code}, {"message", message}, {"exit_code", exit_code}}}};
    err_ << error.dump() << '\n';
  } else {
    err_ << "brokerctl: " << message << '\n';
  }
  err_.flush();
  return exit_code;
}

void Context::PrintJson(const Json& value) {
  out_ << value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

void Context::PrintJsonLine(const Json& value) {
  out_ << value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  out_.flush();
}

}  // namespace brokerctl
