#include "rpc/host_port.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace broker::net {

std::string HostPort::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<HostPort> ParseHostPort(std::string_view text, std::string_view flag,
                                      std::optional<int> default_port, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<HostPort> {
    *error = std::string(flag) + " '" + std::string(text) + "' " + why;
    return std::nullopt;
  };
  HostPort out;
  std::string_view rest;  // what follows the host: "" or ":port"
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("has no ']' after the IPv6 address");
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return fail("has text after ']' that is no :port");
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return fail("is an IPv6 address without brackets; write [ADDRESS]:PORT");
    }
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
  }
  if (out.host.empty()) return fail("has no host; write HOST:PORT, e.g. 127.0.0.1:7070");
  if (rest.empty()) {
    if (!default_port) return fail("has no port; write HOST:PORT, e.g. 127.0.0.1:7070");
    out.port = *default_port;
    return out;
  }
  const std::string_view port = rest.substr(1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || out.port < 0 ||
      out.port > 65535) {
    return fail("has a bad port; use 0-65535");
  }
  return out;
}

std::string BindFailureReason(const HostPort& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return "cannot resolve host '" + address.host + "': " + gai_strerror(rc);
  }
  std::string reason;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    const bool bound = bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1) == 0;
    const int err = errno;
    close(fd);
    if (bound) continue;
    if (err == EADDRINUSE) {
      reason = "port " + port + " is in use by another process";
    } else if (err == EADDRNOTAVAIL) {
      reason = "'" + address.host + "' is not an address of this machine";
    } else if (err == EACCES) {
      reason = "port " + port + " needs privileges brokerd does not have";
    } else {
      reason = std::string(std::strerror(err));
    }
    break;
  }
  freeaddrinfo(found);
  return reason;
}

}  // namespace broker::net
