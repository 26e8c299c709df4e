// Call log: brokerd's log lines about gRPC calls, written by a server interceptor, so every
// service (BrokerService, AdminService, health, reflection) is covered in one place. One line per
// event, spdlog key=value:
//   debug  event=stream_opened / event=stream_closed   (Subscribe, OpenInbox streams)
//   info   event=admin_change   (AdminService calls that change state, with topic/group/name)
//   trace  event=call           (every other unary call that succeeded)
//   debug  event=call_failed    (the caller's mistake: invalid_argument, not_found, ...)
//   warn   event=call_denied    (unauthenticated, permission_denied)
//   warn   event=call_failed    (resource_exhausted, unavailable: full disk, shutting down ...)
//   error  event=call_failed    (internal, data_loss, unknown: bugs and corruption)
// Lines carry the method, the peer, the status code and message and the duration; never payloads,
// keys, headers or tokens.
//
// Thread safety: the factory is used by gRPC from any thread; each interceptor serves one call.
#pragma once

#include <memory>

#include <grpcpp/support/server_interceptor.h>

namespace broker::rpc {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewCallLogFactory();

}  // namespace broker::rpc
