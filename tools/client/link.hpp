// Internal: one socket to the server with its framing (WebSocket or raw TCP length prefix), over
// plain TCP or TLS. Connection owns one and drives it from its I/O thread. Not part of the public
// API.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "client/connection.hpp"
#include "client/io.hpp"

namespace imclient::detail {

// What Connection asks a link to write. How each kind maps to the wire:
//   kind      WebSocket            raw TCP
//   text      text frame           4-byte big-endian length + bytes
//   binary    binary frame         4-byte big-endian length + bytes
//   unframed  binary frame         the bytes alone
//   wire      the bytes alone      the bytes alone (under the WebSocket framing: half a frame)
//   ping      ping control frame   nothing
//   close     close frame 1000     TCP shutdown of the sending side
struct Outgoing {
  enum class Kind { text, binary, unframed, wire, ping, close };
  Kind kind = Kind::text;
  std::string bytes;
};

// One message from the server: a WebSocket message (binary tells its frame type) or a raw TCP
// frame.
struct Incoming {
  bool binary = false;
  std::string bytes;
};

// Largest message a link accepts from the server: far above any server limit, so that tests can
// observe those limits.
constexpr std::size_t max_incoming_bytes = 64u << 20;

// Threading contract: open() runs in the caller's thread before any other thread touches `ioc`;
// everything else runs on the thread that runs `ioc`. At most one read and one write (of any kind)
// are outstanding at a time.
class Link {
 public:
  using ReadHandler = std::function<void(error_code, Incoming)>;
  using WriteHandler = std::function<void(error_code)>;

  virtual ~Link() = default;

  // Connects, with the TLS and WebSocket handshakes as configured; throws on failure or timeout.
  virtual void open(const Endpoint& endpoint, std::chrono::milliseconds timeout) = 0;
  // Reads the next message. An error ends the stream (close frame, EOF, reset, abort()).
  virtual void async_read(ReadHandler handler) = 0;
  // Writes `out`, which must stay alive until `handler` has run.
  virtual void async_write(const Outgoing& out, WriteHandler handler) = 0;
  // Closes the socket at once, without any close handshake; pending operations fail.
  virtual void abort() = 0;
  // After the read stream ended: the WebSocket close code and reason received, or -1 and "" when
  // none was (always so for raw TCP, whose close frame is ordinary JSON).
  virtual int close_code() const = 0;
  virtual std::string close_reason() const = 0;
};

std::unique_ptr<Link> make_websocket_link(net::io_context& ioc, bool tls);
std::unique_ptr<Link> make_raw_tcp_link(net::io_context& ioc, bool tls);

}  // namespace imclient::detail
