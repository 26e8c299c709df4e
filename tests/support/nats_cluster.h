// NatsCluster: a real nats-server cluster with JetStream for integration tests, on loopback ports,
// its data and logs in a directory of the caller's. Every node is one nats-server process, started
// by fork/exec and stopped by its PID (SIGTERM, or SIGKILL for failover tests); nothing is found or
// killed by name.
//
// Client ports are chosen by nats-server itself (listen 127.0.0.1:-1) and read from its ports file;
// cluster (route) ports must be known before the nodes start, since every node lists the others'
// routes, so they are taken from the kernel (bind port 0) just before starting.
//
// Thread safety: none; one test thread drives a cluster.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace broker::testing {

class NatsCluster {
 public:
  // The nats-server binary: $NATS_SERVER_BIN, else the one found at configure time.
  static std::string BinaryPath();

  // Starts `nodes` servers (JetStream on, one cluster) in `dir`, waits until each accepts clients
  // and every node knows the JetStream metadata leader. Returns nullopt with `error` set on failure
  // (nodes already started are killed).
  static std::optional<NatsCluster> Start(const std::string& dir, int nodes, std::string* error,
                                          std::chrono::milliseconds timeout =
                                              std::chrono::seconds(30));

  NatsCluster(NatsCluster&& other) noexcept = default;
  NatsCluster& operator=(NatsCluster&& other) noexcept = default;
  ~NatsCluster();  // SIGKILL whatever still runs

  int size() const { return static_cast<int>(nodes_.size()); }
  // Every running node's client URL, comma-separated: a NatsTransportOptions::address.
  std::string address() const;
  std::string node_address(int i) const { return nodes_[i].client_url; }
  pid_t pid(int i) const { return nodes_[i].pid; }
  bool running(int i) const { return nodes_[i].pid > 0; }
  // Log of node `i` so far.
  std::string Log(int i) const;

  // SIGKILL node `i` and reap it.
  void Kill(int i);
  // SIGTERM every node and reap them (SIGKILL after `timeout`).
  void Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct Node {
    std::string name;
    std::string dir;
    pid_t pid = -1;
    int cluster_port = 0;
    std::string client_url;
  };
  NatsCluster() = default;
  bool Launch(Node& node, const std::vector<int>& routes, std::string* error);
  std::vector<Node> nodes_;
};

}  // namespace broker::testing
