#include "rpc/call_log.h"

#include <chrono>
#include <string>
#include <string_view>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>
#include <spdlog/spdlog.h>

namespace broker::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

constexpr std::string_view kAdminService = "/broker.v1.AdminService/";

// AdminService methods that change state: logged at info, with the names they act on.
bool IsAdminChange(std::string_view method) {
  if (!method.starts_with(kAdminService)) return false;
  const std::string_view name = method.substr(kAdminService.size());
  return name == "CreateTopic" || name == "DeleteTopic" || name == "CreateGroup" ||
         name == "DeleteGroup" || name == "ResetGroup" || name == "Redrive" ||
         name == "PurgeDeadLetters" || name == "Backup";
}

// " topic=.. group=.. name=.. dir=.." from the request's top-level string fields of those names
// (admin requests only: they carry names and paths, never payloads).
std::string NamesOf(const google::protobuf::Message& request) {
  std::string out;
  const google::protobuf::Descriptor* descriptor = request.GetDescriptor();
  const google::protobuf::Reflection* reflection = request.GetReflection();
  for (const char* field_name : {"topic", "group", "name", "dir"}) {
    const google::protobuf::FieldDescriptor* field = descriptor->FindFieldByName(field_name);
    if (field == nullptr || field->is_repeated() ||
        field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
      continue;
    }
    out += std::string(" ") + field_name + "=" + reflection->GetString(request, field);
  }
  return out;
}

spdlog::level::level_enum FailureLevel(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNKNOWN:
      return spdlog::level::err;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return spdlog::level::warn;
    default:
      return spdlog::level::debug;
  }
}

// Lower-case names as in broker::StatusCodeName, for grep-able lines.
const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "ok";
    case grpc::StatusCode::CANCELLED:
      return "cancelled";
    case grpc::StatusCode::UNKNOWN:
      return "unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "invalid_argument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "deadline_exceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "not_found";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "already_exists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "permission_denied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "resource_exhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "failed_precondition";
    case grpc::StatusCode::ABORTED:
      return "aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "out_of_range";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "data_loss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "unauthenticated";
    case grpc::StatusCode::DO_NOT_USE:
      return "unknown";
  }
  return "unknown";
}

class CallLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CallLogInterceptor(ServerRpcInfo* info)
      : method_(info->method() != nullptr ? info->method() : "?"),
        peer_(info->server_context()->peer()),
        streaming_(info->type() != ServerRpcInfo::Type::UNARY),
        admin_change_(IsAdminChange(method_)) {
    if (streaming_) spdlog::debug("event=stream_opened method={} peer={}", method_, peer_);
  }

  // Logs when the call is over (gRPC destroys its interceptors then), whether or not a status was
  // sent: a stream whose client vanished ends without one.
  ~CallLogInterceptor() override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started_)
                        .count();
    if (!status_sent_) {
      spdlog::log(streaming_ ? spdlog::level::debug : spdlog::level::trace,
                  "event={} method={} peer={} code=cancelled duration_ms={}{} "
                  "error=\"ended without a status (the client went away)\"",
                  streaming_ ? "stream_closed" : "call_failed", method_, peer_, ms, names_);
      return;
    }
    const grpc::StatusCode code = status_.error_code();
    if (code == grpc::StatusCode::OK) {
      if (admin_change_) {
        spdlog::info("event=admin_change method={} peer={}{} code=ok duration_ms={}", method_,
                     peer_, names_, ms);
      } else {
        spdlog::log(streaming_ ? spdlog::level::debug : spdlog::level::trace,
                    "event={} method={} peer={} code=ok duration_ms={}",
                    streaming_ ? "stream_closed" : "call", method_, peer_, ms);
      }
      return;
    }
    const bool denied =
        code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED;
    spdlog::level::level_enum level = FailureLevel(code);
    // A failed admin change is still worth a line at info.
    if (admin_change_ && level < spdlog::level::info) level = spdlog::level::info;
    spdlog::log(level, "event={} method={} peer={}{} code={} duration_ms={} error=\"{}\"",
                denied ? "call_denied" : (streaming_ ? "stream_closed" : "call_failed"), method_,
                peer_, names_, CodeName(code), ms, status_.error_message());
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (admin_change_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // AdminService is generated protobuf code: its requests are protobuf messages.
      if (const void* request = methods->GetRecvMessage(); request != nullptr) {
        names_ = NamesOf(*static_cast<const google::protobuf::Message*>(request));
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      status_ = methods->GetSendStatus();
      status_sent_ = true;
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  const std::string peer_;
  const bool streaming_;
  const bool admin_change_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string names_;  // " topic=... group=..." of an admin change
  grpc::Status status_;
  bool status_sent_ = false;
};

class CallLogFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new CallLogInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewCallLogFactory() {
  return std::make_unique<CallLogFactory>();
}

}  // namespace broker::rpc
