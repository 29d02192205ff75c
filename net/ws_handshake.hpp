#pragma once
// The server side of the WebSocket opening handshake (RFC 6455 section 4.2), for a request the
// HTTP session already recognised as an upgrade to /ws. Net layer only.

#include <string>

#include "net/http_request.hpp"

namespace im::net {

struct HandshakeResult {
  bool ok = false;       // true: `response` is the 101; false: an error response, then close
  std::string response;  // the serialized HTTP response to write
};

// Checks the upgrade request (GET, HTTP/1.1, Sec-WebSocket-Key of 16 bytes, version 13) and
// builds the 101 Switching Protocols, or 400 (426 for another protocol version) with the reason.
HandshakeResult websocket_handshake(const http::request<http::string_body>& request);

}  // namespace im::net
