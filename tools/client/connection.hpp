// One socket to the server speaking the frame protocol (WebSocket or raw TCP), driven
// synchronously.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "client/endpoint.hpp"

namespace imclient {

enum class Transport { websocket, raw_tcp };
enum class Encoding { json, msgpack };

// A background thread reads every frame the server sends into a queue, so nothing is lost between
// calls; next()/expect() take from that queue. All members may be called from any thread.
//
// Closing: the connection counts as closed once the server's close arrived (a WebSocket close
// frame, or on raw TCP the final {"type":"close",...} frame, which is also queued as an ordinary
// frame) or the socket ended. Frames queued before that stay readable.
//
// A WebSocket text message that is not valid UTF-8 ends the connection (Beast checks it; code -1,
// close_reason() says so). Other frames the client cannot decode are queued as
// {"type":"_undecodable","encoding":"json"|"msgpack","bytes":N,"prefix_hex":"..."}, so that
// expect() failures show them.
class Connection {
 public:
  // Connects (WebSocket: GET /ws upgrade) within `timeout`; throws std::runtime_error on failure.
  // Raw TCP frames are always JSON, so raw_tcp with msgpack is refused (std::runtime_error).
  // Nothing is sent: on raw TCP the server says nothing before the client's first frame.
  static std::unique_ptr<Connection> open(
      const Endpoint& endpoint, Transport transport, Encoding encoding,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Drops the socket (as abort()) if still open and joins the reader thread.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writers return once the bytes are handed to the socket. A write that fails because the server
  // is gone is not an error here: the close shows in next()/expect()/wait_closed(). They throw
  // std::runtime_error after close()/abort(), or when a write is stuck for 30 s.

  // `frame` in this connection's encoding: WebSocket text frame (JSON) or binary frame
  // (MessagePack); raw TCP: 4-byte big-endian length + JSON.
  void send(const nlohmann::json& frame);
  // The server answers in the encoding of the client's first frame: sent first, a raw text frame
  // makes it answer JSON, a raw binary frame MessagePack, whatever this connection's Encoding.
  // WebSocket: a text frame of exactly these bytes (they may be invalid UTF-8 or JSON).
  // Raw TCP: the length prefix and these bytes.
  void send_text_raw(const std::string& bytes);
  // WebSocket: a binary frame of these bytes. Raw TCP: exactly these bytes, no prefix.
  void send_bytes_raw(const std::string& bytes);
  // Exactly these bytes on the socket, outside any framing: a test's half of a WebSocket frame
  // (which must be masked) or of a raw TCP length prefix. Only abort() makes sense after it.
  void send_wire_raw(const std::string& bytes);
  // WebSocket: a ping control frame (the pong control frame that answers it is not queued).
  // Raw TCP: nothing.
  void send_ws_ping();

  // The next server frame, decoded by its frame type (WebSocket text and raw TCP: JSON; WebSocket
  // binary: MessagePack). nullopt when none arrives within `timeout`, or at once when the queue is
  // empty and the connection is closed.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout);
  // Takes frames until one whose "type" is `type` and returns it. Frames taken on the way are kept
  // for skipped(). Throws std::runtime_error on timeout or close, listing what arrived meanwhile.
  nlohmann::json expect(const std::string& type,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The frames expect() passed over since the last call, oldest first; clears them.
  std::vector<nlohmann::json> skipped();

  bool closed() const;
  // Waits until closed and returns the close code: the WebSocket close code, or on raw TCP the
  // `code` of the final close frame; -1 when the socket ended without one (or was aborted).
  // nullopt if still open at `timeout`. Frames arriving meanwhile stay queued for next().
  std::optional<int> wait_closed(std::chrono::milliseconds timeout);
  // The reason that came with the close code; a description of the end when there was none.
  std::string close_reason() const;

  // Clean client-side close: WebSocket close 1000 and waiting (up to the open() timeout) for the
  // server's answer; raw TCP: ends the sending side and waits for the server to end the socket.
  // Then the socket is released. Idempotent.
  void close();
  // Drops the socket at once: no close frame, no TLS shutdown. closed() is true on return.
  void abort();

  Encoding encoding() const;
  Transport transport() const;

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace imclient
