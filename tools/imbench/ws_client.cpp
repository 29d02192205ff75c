#include "ws_client.hpp"

#include <algorithm>

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

namespace imbench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using nlohmann::json;

WsClient::WsClient(asio::io_context& ioc) : ws_(ioc), deadline_(ioc), heartbeat_(ioc) {}

void WsClient::start(const Target& target, const asio::ip::address_v4& source, std::string auth_frame,
                     std::chrono::milliseconds timeout, AuthHandler on_auth) {
  target_ = target;
  auth_frame_ = std::move(auth_frame);
  on_auth_ = std::move(on_auth);
  deadline_.expires_after(timeout);
  deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec && self->state_ != State::ready && self->state_ != State::ended) self->fail_auth("timeout");
  });
  try {
    bind_source(ws_.next_layer(), source);
  } catch (const std::exception& e) {
    // Report on the next turn so that on_auth never runs inside start().
    asio::post(ws_.get_executor(), [self = shared_from_this(), what = std::string(e.what())] {
      self->fail_auth("bind: " + what);
    });
    return;
  }
  ws_.next_layer().async_connect(target_.server,
                                 beast::bind_front_handler(&WsClient::on_connect, shared_from_this()));
}

void WsClient::on_connect(beast::error_code ec) {
  if (state_ == State::ended) return;
  if (ec) return fail_auth("connect: " + ec.message());
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(30);
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.text(true);
  ws_.async_handshake(target_.host_header, "/ws",
                      beast::bind_front_handler(&WsClient::on_handshake, shared_from_this()));
}

void WsClient::on_handshake(beast::error_code ec) {
  if (state_ == State::ended) return;
  if (ec) return fail_auth("websocket upgrade: " + ec.message());
  state_ = State::await_auth_required;
  do_read();
}

void WsClient::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&WsClient::on_read, shared_from_this()));
}

void WsClient::on_read(beast::error_code ec, std::size_t) {
  if (state_ == State::ended) return;
  if (ec) {
    int code = ec == websocket::error::closed ? static_cast<int>(ws_.reason().code) : -1;
    if (state_ != State::ready) return fail_auth("connection ended before auth_ok (close code " + std::to_string(code) + ")");
    return end(code);
  }
  auto data = buffer_.cdata();
  auto frame = json::parse(static_cast<const char*>(data.data()), static_cast<const char*>(data.data()) + data.size(),
                           nullptr, false);
  buffer_.consume(buffer_.size());
  if (frame.is_object()) handle(frame);
  if (state_ != State::ended) do_read();
}

void WsClient::handle(const json& frame) {
  auto type = frame.value("type", std::string());
  switch (state_) {
    case State::await_auth_required:
      if (type == "auth_required") {
        state_ = State::await_auth_ok;
        send(auth_frame_);
      }
      return;
    case State::await_auth_ok:
      if (type == "auth_ok") {
        state_ = State::ready;
        deadline_.cancel();
        auto handler = std::move(on_auth_);
        on_auth_ = nullptr;
        if (handler) handler(true, "", frame);
      } else if (type == "error") {
        fail_auth("auth refused: " + frame.value("code", std::string("?")));
      }
      return;
    case State::ready:
      if (type == "pong") {
        ++pongs_;
        return;
      }
      if (on_frame_) on_frame_(frame);
      return;
    default:
      return;
  }
}

void WsClient::send(std::string text) {
  if (closing_ || state_ == State::ended) return;
  queue_.push_back(std::move(text));
  if (!writing_) write_next();
}

void WsClient::ack(uint64_t useq) {
  if (closing_ || state_ == State::ended) return;
  ack_useq_ = std::max(ack_useq_, useq);
  if (ack_queued_) return;
  ack_queued_ = true;
  queue_.emplace_back();
  if (!writing_) write_next();
}

void WsClient::write_next() {
  if (!queue_.empty()) {
    writing_ = true;
    if (queue_.front().empty()) {  // the pending ACK, with the newest useq
      queue_.front() = R"({"type":"ack","useq":)" + std::to_string(ack_useq_) + "}";
      ack_queued_ = false;
    }
    ws_.async_write(asio::buffer(queue_.front()), beast::bind_front_handler(&WsClient::on_write, shared_from_this()));
    return;
  }
  if (closing_ && !close_sent_) {
    close_sent_ = true;
    writing_ = true;
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code ec) {
      self->writing_ = false;
      // The pending read ends with `closed` once the server answers; an error ends it here.
      if (ec) self->end(-1);
    });
  }
}

void WsClient::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (state_ == State::ended) return;
  if (ec) {
    if (state_ != State::ready) return fail_auth("write: " + ec.message());
    return end(-1);
  }
  queue_.pop_front();
  write_next();
}

void WsClient::start_heartbeat(std::chrono::milliseconds interval) {
  heartbeat_interval_ = interval;
  heartbeat();
}

void WsClient::heartbeat() {
  heartbeat_.expires_after(heartbeat_interval_);
  heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->state_ != State::ready || self->closing_) return;
    self->send(R"({"type":"ping"})");
    self->heartbeat();
  });
}

void WsClient::close() {
  if (state_ == State::ended || closing_) return;
  if (state_ != State::ready) return abort();
  closing_ = true;
  heartbeat_.cancel();
  if (!writing_) write_next();
}

void WsClient::abort() {
  if (state_ == State::ended) return;
  if (state_ != State::ready) return fail_auth("aborted");
  end(-1);
}

bool WsClient::stop_io() {
  if (state_ == State::ended) return false;
  state_ = State::ended;
  deadline_.cancel();
  heartbeat_.cancel();
  beast::error_code ignored;
  ws_.next_layer().close(ignored);
  return true;
}

void WsClient::fail_auth(const std::string& error) {
  if (!stop_io()) return;
  auto handler = std::move(on_auth_);
  on_auth_ = nullptr;
  if (handler) handler(false, error, json());
}

void WsClient::end(int code) {
  if (!stop_io()) return;
  auto handler = std::move(on_close_);
  on_close_ = nullptr;
  on_frame_ = nullptr;  // scenario callbacks may hold the client; break the cycle
  if (handler) handler(code);
}

}  // namespace imbench
