// Parsing of the "host:port" addresses brokerd listens on (--listen, --metrics-listen) and
// brokerctl dials (--addr), and the reason a listener could not bind. Shared so that the daemon and
// the CLI agree on what an address is, with no gRPC or engine dependency (brokerctl links it).
//
// Thread safety: plain functions over values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace broker::net {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal
  int port = 0;      // 0-65535
  // "host:port" again, with brackets around an IPv6 host.
  std::string ToString() const;
};

// Parses "host:port" or "[v6]:port". Without a port: `default_port` if given, else an error.
// On error returns nullopt and sets `error` to one line naming `flag` and what is wrong.
std::optional<HostPort> ParseHostPort(std::string_view text, std::string_view flag,
                                      std::optional<int> default_port, std::string* error);

// Why binding a listening TCP socket to `address` fails now, e.g. "port 7070 is in use by another
// process" (found by trying it with SO_REUSEADDR only, as brokerd's listeners bind), or "" if a
// bind would succeed. Used after a listener refused to start, for a message a person can act on.
std::string BindFailureReason(const HostPort& address);

}  // namespace broker::net
