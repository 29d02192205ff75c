// One asynchronous WebSocket client connection speaking PROTOCOL.md: connect (from a chosen
// loopback source), upgrade at GET /ws, wait for auth_required, authenticate, then hand every
// frame to the scenario. Lives on one io_context: every member except the constructor must be
// called on that io_context's thread, and every handler runs there.
//
// The framing (RFC 6455, client side: masked frames out, unmasked frames in) is done here rather
// than by Beast's websocket::stream, for the same reason the server does its own: the tool shares
// the machine's two cores with the server, so it must be cheap. It reads whatever the socket has
// into a per-thread buffer and handles every complete frame in it; frames queued meanwhile (new
// sends, the cumulative ACK) leave in one write at the end of that turn, as an event-loop client
// does. With WriteMode::one_frame_per_write every frame is its own write instead, the way a client
// that calls send() per message behaves (imbench --write-batching off).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "frame_scan.hpp"
#include "protocol/ws_framer.hpp"
#include "target.hpp"

namespace imbench {

enum class WriteMode { batched, one_frame_per_write };

class WsClient : public std::enable_shared_from_this<WsClient> {
 public:
  // ok: auth_ok arrived (its frame is passed). Otherwise `error` says what failed.
  using AuthHandler = std::function<void(bool ok, const std::string& error, const nlohmann::json& auth_ok)>;
  // Every frame after auth_ok except pong (counted in pongs()), as scan_frame reads it; frames
  // that are not a JSON object are dropped.
  using FrameHandler = std::function<void(const Frame& frame)>;
  // Once, when the connection ended after a successful auth: the close code (-1: no close frame).
  using CloseHandler = std::function<void(int code)>;

  explicit WsClient(boost::asio::io_context& ioc, WriteMode mode = WriteMode::batched);

  void set_frame_handler(FrameHandler handler) { on_frame_ = std::move(handler); }
  void set_close_handler(CloseHandler handler) { on_close_ = std::move(handler); }
  // Called whenever a write completed and nothing is queued behind it (the flood scenario
  // refills its queue from here, writing as fast as the socket takes it).
  void set_drained_handler(std::function<void()> handler) { on_drained_ = std::move(handler); }

  // Connects from `source` and authenticates with `auth_frame` (a serialized auth request);
  // `on_auth` runs exactly once. The whole exchange is bounded by `timeout`.
  void start(const Target& target, const boost::asio::ip::address_v4& source, std::string auth_frame,
             std::chrono::milliseconds timeout, AuthHandler on_auth);
  // Queues a text frame; it is written at the end of this turn. Ignored once closing.
  void send(std::string text);
  // Queues a WebSocket ping control frame (its pong is counted in pongs(), like the app's).
  void send_ws_ping();
  // Acknowledges every push up to `useq` (PROTOCOL.md section 6: ACKs are cumulative): one ACK
  // frame per write carries the newest useq seen, however many pushes arrived since the last.
  void ack(uint64_t useq);
  // Sends {"type":"ping"} every `interval` until the connection ends.
  void start_heartbeat(std::chrono::milliseconds interval);
  // Clean close (1000) once the queued frames are written; the close handler runs at the end.
  void close();
  // Drops the socket now; the close handler runs (code -1) if it has not yet.
  void abort();

  bool authenticated() const { return state_ == State::ready; }
  bool ended() const { return state_ == State::ended; }
  uint64_t pongs() const { return pongs_; }

 private:
  enum class State { connecting, upgrading, await_auth_required, await_auth_ok, ready, ended };
  using Opcode = im::ws::Opcode;

  void on_connect(boost::system::error_code ec);
  void on_upgrade(boost::system::error_code ec, std::size_t header_bytes);
  void wait_readable();
  void on_readable(boost::system::error_code ec);
  // Handles every complete frame at the front of `input`; false once the connection ended.
  bool consume(std::string_view input);
  void on_message(std::string_view payload);
  void handle(const nlohmann::json& frame);
  void queue_frame(Opcode opcode, std::string payload);
  void schedule_flush();
  void flush();
  void append_masked(Opcode opcode, std::string_view payload);
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void heartbeat();
  void fail_auth(const std::string& error);
  void end(int code);
  // Ends the socket and timers once; false if already ended.
  bool stop_io();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer heartbeat_;
  std::chrono::milliseconds heartbeat_interval_{0};
  WriteMode mode_;
  Target target_;
  std::string auth_frame_;
  AuthHandler on_auth_;
  FrameHandler on_frame_;
  CloseHandler on_close_;
  std::function<void()> on_drained_;
  std::string upgrade_;     // the upgrade request, then the server's answer
  std::string partial_;     // bytes of a frame not yet complete (usually empty)
  std::string message_;     // a fragmented message being reassembled
  std::deque<std::pair<Opcode, std::string>> queue_;  // frames not yet written
  std::string out_;         // the bytes of the write in flight
  uint64_t ack_useq_ = 0;   // the newest useq to acknowledge
  bool ack_pending_ = false;
  bool flush_posted_ = false;
  uint32_t mask_state_;     // xorshift state for the masking keys
  State state_ = State::connecting;
  bool writing_ = false;
  bool in_frame_handler_ = false;  // end() inside the handler leaves on_frame_ for handle() to drop
  bool closing_ = false;     // close() was called: a close frame follows the queued frames
  bool close_sent_ = false;
  int peer_close_code_ = -1;  // the code of the server's close frame, once it came
  uint64_t pongs_ = 0;
  Frame frame_;  // reused for every frame: its strings keep their buffers
};

}  // namespace imbench
