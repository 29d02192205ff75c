// Where the server listens, shared by every part of the client library.
#pragma once

#include <cstdint>
#include <string>

namespace imclient {

// `tls` wraps every connection (HTTP, WebSocket, raw TCP) in TLS. The certificate is not verified:
// test servers use self-signed ones.
struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  bool tls = false;
};

// Parses "HOST:PORT", "HOST" (port 8080), ":PORT" (host 127.0.0.1) or "[IPV6]:PORT".
// Throws std::runtime_error on a malformed port.
Endpoint parse_endpoint(const std::string& host_port, bool tls = false);

// "127.0.0.1:8080" (IPv6 hosts in brackets): the form used in Host headers and messages.
std::string host_and_port(const Endpoint& endpoint);

}  // namespace imclient
