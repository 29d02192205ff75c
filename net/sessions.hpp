#pragma once
// Entry points from one session kind to the next: detection hands a stream to HTTP or raw TCP,
// HTTP hands an upgrade to WebSocket. Defined for both PlainStream and TlsStream.

#include <chrono>

#include "net/net_common.hpp"
#include "net/shared_state.hpp"

namespace im::net {

using Clock = std::chrono::steady_clock;

// Starts detection (TLS, then HTTP vs raw TCP) on a freshly accepted socket.
void start_detect(std::shared_ptr<SharedState> state, tcp::socket socket);

template <class Stream>
void start_http(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer);

template <class Stream>
void start_raw(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer,
               Clock::time_point accepted);

// `leftover`: bytes the HTTP session read past the upgrade request (the client's first frames).
template <class Stream>
void start_websocket(std::shared_ptr<SharedState> state, Stream stream,
                     http::request<http::string_body> upgrade, beast::flat_buffer leftover);

}  // namespace im::net
