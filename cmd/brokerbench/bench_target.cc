#include "bench_target.h"

#include <filesystem>
#include <system_error>

#include "broker/client/grpc_transport.h"
#ifdef BROKERBENCH_WITH_NATS
#include "broker/client/nats_transport.h"
#endif

namespace brokerbench {

void AddTargetFlags(CLI::App& command, TargetFlags& flags) {
  AddBrokerFlags(command, flags.broker);
  command.add_option("--addr", flags.addr,
                     "brokerd address (host:port), or NATS JetStream servers "
                     "(nats://host:port,...); without it the embedded engine is measured");
  command.add_option("--token", flags.token, "bearer token for brokerd");
  command
      .add_option("--connections", flags.connections,
                  "gRPC: TCP connections to brokerd the workload's producers/consumers use, "
                  "round robin")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
}

broker::Result<std::unique_ptr<BenchTarget>> BenchTarget::Open(const TargetFlags& flags) {
  auto target = std::unique_ptr<BenchTarget>(new BenchTarget());
  target->flags_ = flags;
  if (flags.addr.empty()) {
    target->mode_ = "in_process";
    target->data_dir_ = flags.broker.data_dir;
    if (target->data_dir_.empty() && flags.broker.in_memory) {
      target->data_dir_ = "brokerbench";  // only a name: nothing is created
    } else if (target->data_dir_.empty()) {
      auto dir = MakeRunDirectory();
      if (!dir.ok()) return dir.status();
      target->data_dir_ = std::move(dir).value();
      target->owns_data_dir_ = true;
    }
    auto opened = OpenBroker(flags.broker, target->data_dir_);
    if (!opened.ok()) return opened.status();
    target->broker_ = std::move(opened).value();
  } else if (flags.addr.rfind("nats://", 0) == 0) {
#ifdef BROKERBENCH_WITH_NATS
    target->mode_ = "nats";
#else
    return broker::Status::InvalidArgument("this brokerbench was built without libnats: " +
                                           flags.addr + " cannot be used");
#endif
  } else {
    target->mode_ = "grpc";
  }
  return target;
}

BenchTarget::~BenchTarget() {
  broker_.reset();  // closed before its files go
  if (owns_data_dir_) {
    std::error_code ignored;  // a leftover in $TMPDIR is not worth failing a finished run for
    std::filesystem::remove_all(data_dir_, ignored);
  }
}

broker::Result<std::unique_ptr<broker::client::Transport>> BenchTarget::NewTransport(
    unsigned index) const {
  if (broker_) return broker::client::MakeInProcessTransport(*broker_);
#ifdef BROKERBENCH_WITH_NATS
  if (mode_ == "nats") {
    broker::client::NatsTransportOptions options;
    options.address = flags_.addr;
    return broker::client::MakeNatsTransport(options);
  }
#endif
  broker::client::GrpcTransportOptions options;
  options.address = flags_.addr;
  options.token = flags_.token;
  options.connection = static_cast<int>(index % flags_.connections);
  return broker::client::MakeGrpcTransport(options);
}

std::unique_ptr<broker::client::Client> BenchTarget::NewClient() const {
  auto transport = NewTransport();
  if (!transport.ok()) return nullptr;
  return broker::client::Client::Connect(std::move(transport).value());
}

void BenchTarget::FlushAcks() const {
  if (broker_) (void)broker_->RunDeliveryTimers();
}

}  // namespace brokerbench
