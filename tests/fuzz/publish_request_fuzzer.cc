// Fuzz target: BrokerService.Publish on exactly what the wire delivers: the input is a serialized
// broker.v1.PublishRequest (topic name, messages with keys, headers and idempotency keys,
// durability), decoded as gRPC would and handled as BrokerServiceImpl::Publish does, on an
// in-memory broker cleared between inputs. Validation must answer bad requests with a clear error;
// good ones must read back byte for byte (service_harness.h lists the properties).
#include <cstddef>
#include <cstdint>

#include "broker/v1/broker.pb.h"
#include "service_harness.h"

// Strings with invalid UTF-8 fail to parse, as they would in gRPC; protobuf need not log each one.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  broker::v1::PublishRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return -1;  // not kept in the corpus
  broker::fuzz::ServiceHarness& service = broker::fuzz::ServiceHarness::ForInput();
  service.Publish(request);
  return 0;
}
