// One asynchronous WebSocket client connection speaking PROTOCOL.md: connect (from a chosen
// loopback source), upgrade at GET /ws, wait for auth_required, authenticate, then hand every
// frame to the scenario. Lives on one io_context: every member except the constructor must be
// called on that io_context's thread, and every handler runs there.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "target.hpp"

namespace imbench {

class WsClient : public std::enable_shared_from_this<WsClient> {
 public:
  // ok: auth_ok arrived (its frame is passed). Otherwise `error` says what failed.
  using AuthHandler = std::function<void(bool ok, const std::string& error, const nlohmann::json& auth_ok)>;
  // Every frame after auth_ok except pong (counted in pongs()).
  using FrameHandler = std::function<void(const nlohmann::json& frame)>;
  // Once, when the connection ended after a successful auth: the close code (-1: no close frame).
  using CloseHandler = std::function<void(int code)>;

  explicit WsClient(boost::asio::io_context& ioc);

  void set_frame_handler(FrameHandler handler) { on_frame_ = std::move(handler); }
  void set_close_handler(CloseHandler handler) { on_close_ = std::move(handler); }

  // Connects from `source` and authenticates with `auth_frame` (a serialized auth request);
  // `on_auth` runs exactly once. The whole exchange is bounded by `timeout`.
  void start(const Target& target, const boost::asio::ip::address_v4& source, std::string auth_frame,
             std::chrono::milliseconds timeout, AuthHandler on_auth);
  // Queues a text frame; one write is in flight at a time. Ignored once closing.
  void send(std::string text);
  // Acknowledges every push up to `useq` (PROTOCOL.md section 6: ACKs are cumulative), as a
  // careful client does: while an ACK still waits in the write queue, a newer one updates it
  // instead of queueing another frame. Under light load every push gets its own ACK at once.
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
  enum class State { connecting, await_auth_required, await_auth_ok, ready, ended };

  void on_connect(boost::beast::error_code ec);
  void on_handshake(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle(const nlohmann::json& frame);
  void write_next();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void heartbeat();
  void fail_auth(const std::string& error);
  void end(int code);
  // Ends the socket and timers once; false if already ended.
  bool stop_io();

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer heartbeat_;
  std::chrono::milliseconds heartbeat_interval_{0};
  Target target_;
  std::string auth_frame_;
  AuthHandler on_auth_;
  FrameHandler on_frame_;
  CloseHandler on_close_;
  std::deque<std::string> queue_;  // an empty string stands for the pending ACK
  uint64_t ack_useq_ = 0;          // the newest useq to acknowledge
  bool ack_queued_ = false;        // the pending ACK is in queue_, not yet written
  State state_ = State::connecting;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  uint64_t pongs_ = 0;
};

}  // namespace imbench
