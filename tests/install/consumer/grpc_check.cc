// Builds a gRPC client from installed headers and libraries. Channels connect lazily, so no
// brokerd is needed: this checks that broker::client_grpc links and starts.
#include <cstdio>

#include <broker/client/grpc_transport.h>

int main() {
  broker::client::GrpcTransportOptions options;
  options.address = "127.0.0.1:1";
  auto client = broker::client::ConnectGrpc(options);
  if (!client.ok()) {
    std::fprintf(stderr, "connect: %s\n", client.status().ToString().c_str());
    return 1;
  }
  (*client)->Close();
  std::printf("grpc_check: ok\n");
  return 0;
}
