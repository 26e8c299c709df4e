#include "nats_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace broker::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// A port the kernel considers free right now (bound to port 0, then released).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Waits up to `timeout` for `pid` to exit, on a pidfd (its exit is an event poll() reports);
// true once it has exited. Does not reap it.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;  // already reaped
  pollfd pfd{fd, POLLIN, 0};
  const bool exited = poll(&pfd, 1, static_cast<int>(timeout.count())) > 0;
  close(fd);
  return exited;
}

// Reaps `pid` within `timeout`; true if it exited.
bool Reap(pid_t pid, std::chrono::milliseconds timeout) {
  if (!WaitForExit(pid, timeout)) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return true;
}

}  // namespace

std::string NatsCluster::BinaryPath() {
  if (const char* env = std::getenv("NATS_SERVER_BIN")) return env;
  return NATS_SERVER_BINARY;
}

bool NatsCluster::Launch(Node& node, const std::vector<int>& routes, std::string* error) {
  std::filesystem::create_directories(node.dir);
  std::ostringstream conf;
  conf << "server_name: " << node.name << "\n"
       << "listen: 127.0.0.1:-1\n"
       << "ports_file_dir: \"" << node.dir << "\"\n"
       << "jetstream { store_dir: \"" << node.dir << "/js\", max_memory_store: 64MB, "
       << "max_file_store: 1GB }\n"
       << "cluster {\n  name: broker-test\n  listen: 127.0.0.1:" << node.cluster_port
       << "\n  routes: [";
  for (size_t i = 0; i < routes.size(); ++i) {
    conf << (i == 0 ? "" : ", ") << "nats-route://127.0.0.1:" << routes[i];
  }
  conf << "]\n}\n";
  const std::string conf_path = node.dir + "/server.conf";
  std::ofstream(conf_path) << conf.str();

  const std::string binary = BinaryPath();
  const std::string log_path = node.dir + "/server.log";
  std::vector<std::string> args = {binary, "-c", conf_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid == 0) {
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  node.pid = pid;
  return true;
}

std::optional<NatsCluster> NatsCluster::Start(const std::string& dir, int nodes, std::string* error,
                                              std::chrono::milliseconds timeout) {
  NatsCluster cluster;
  std::vector<int> routes;
  for (int i = 0; i < nodes; ++i) {
    Node node;
    node.name = "n" + std::to_string(i + 1);
    node.dir = dir + "/" + node.name;
    node.cluster_port = FreePort();
    if (node.cluster_port == 0) {
      *error = "no free loopback port";
      return std::nullopt;
    }
    routes.push_back(node.cluster_port);
    cluster.nodes_.push_back(node);
  }
  for (Node& node : cluster.nodes_) {
    if (!cluster.Launch(node, routes, error)) return std::nullopt;
  }

  // Ready: each node wrote its ports file (it accepts clients), and the cluster has a metadata
  // leader (some node logged it: a node that joins after the election may never log it itself).
  // Callers that need JetStream wait for a replicated stream to take a publish as well.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto has_leader = [&cluster] {
    for (int i = 0; i < cluster.size(); ++i) {
      if (cluster.Log(i).find("metadata leader") != std::string::npos) return true;
    }
    return false;
  };
  for (Node& node : cluster.nodes_) {
    const std::string ports = node.dir + "/" +
                              std::filesystem::path(BinaryPath()).filename().string() + "_" +
                              std::to_string(node.pid) + ".ports";
    for (;;) {
      const std::string text = ReadFile(ports);
      const auto at = text.find("nats://");
      const bool last = &node == &cluster.nodes_.back();
      if (at != std::string::npos && (!last || has_leader())) {
        node.client_url = text.substr(at, text.find('"', at) - at);
        break;
      }
      const std::string log = cluster.Log(static_cast<int>(&node - cluster.nodes_.data()));
      int status = 0;
      if (waitpid(node.pid, &status, WNOHANG) == node.pid) {
        node.pid = -1;
        *error = "nats-server " + node.name + " exited while starting: " + log;
        return std::nullopt;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        *error = "nats-server " + node.name + " was not ready in time: " + log;
        return std::nullopt;
      }
      // The ports file and the log are files, with no notification to wait on; what is waited
      // on is the node exiting (reported above), for at most 20 ms before looking again.
      WaitForExit(node.pid, std::chrono::milliseconds(20));
    }
  }
  return cluster;
}

NatsCluster::~NatsCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

std::string NatsCluster::address() const {
  std::string out;
  for (const Node& node : nodes_) {
    if (node.pid <= 0 || node.client_url.empty()) continue;
    if (!out.empty()) out += ',';
    out += node.client_url;
  }
  return out;
}

std::string NatsCluster::Log(int i) const { return ReadFile(nodes_[i].dir + "/server.log"); }

void NatsCluster::Kill(int i) {
  Node& node = nodes_[i];
  if (node.pid <= 0) return;
  kill(node.pid, SIGKILL);
  Reap(node.pid, std::chrono::seconds(30));
  node.pid = -1;
}

void NatsCluster::Stop(std::chrono::milliseconds timeout) {
  for (Node& node : nodes_) {
    if (node.pid > 0) kill(node.pid, SIGTERM);
  }
  for (Node& node : nodes_) {
    if (node.pid <= 0) continue;
    if (!Reap(node.pid, timeout)) {
      kill(node.pid, SIGKILL);
      Reap(node.pid, std::chrono::seconds(30));
    }
    node.pid = -1;
  }
}

}  // namespace broker::testing
