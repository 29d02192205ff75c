#include "ws_client.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

namespace imbench {

namespace asio = boost::asio;
using boost::system::error_code;
using nlohmann::json;

namespace {

// The largest frame imbench accepts from the server (its own --max-frame-bytes is 1 MiB).
constexpr uint64_t kMaxFrameBytes = 16u << 20;
// Reads per readable event before waiting again, so one busy connection cannot starve the others.
constexpr int kReadsPerWakeup = 4;

// One read buffer per io thread: a connection waits until its socket is readable and then reads
// synchronously, so an idle connection holds no buffer (the server's sessions do the same).
std::vector<char>& read_buffer() {
  thread_local std::vector<char> buffer(64 * 1024);
  return buffer;
}

uint64_t big_endian(std::string_view bytes) {
  uint64_t value = 0;
  for (unsigned char c : bytes) value = (value << 8) | c;
  return value;
}

}  // namespace

WsClient::WsClient(asio::io_context& ioc, WriteMode mode)
    : socket_(ioc),
      deadline_(ioc),
      heartbeat_(ioc),
      mode_(mode),
      mask_state_(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(this) >> 4) | 1u) {}

void WsClient::start(const Target& target, const asio::ip::address_v4& source, std::string auth_frame,
                     std::chrono::milliseconds timeout, AuthHandler on_auth) {
  target_ = target;
  auth_frame_ = std::move(auth_frame);
  on_auth_ = std::move(on_auth);
  deadline_.expires_after(timeout);
  deadline_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec && self->state_ != State::ready && self->state_ != State::ended) self->fail_auth("timeout");
  });
  try {
    bind_source(socket_, source);
  } catch (const std::exception& e) {
    // Report on the next turn so that on_auth never runs inside start().
    asio::post(socket_.get_executor(), [self = shared_from_this(), what = std::string(e.what())] {
      self->fail_auth("bind: " + what);
    });
    return;
  }
  socket_.async_connect(target_.server, [self = shared_from_this()](error_code ec) { self->on_connect(ec); });
}

void WsClient::on_connect(error_code ec) {
  if (state_ == State::ended) return;
  if (ec) return fail_auth("connect: " + ec.message());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  state_ = State::upgrading;
  // The key is fixed: imbench does not check Sec-WebSocket-Accept (test_ws_transport does).
  auto request = std::make_shared<std::string>("GET /ws HTTP/1.1\r\nHost: " + target_.host_header +
                                               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                               "Sec-WebSocket-Version: 13\r\n\r\n");
  asio::async_write(socket_, asio::buffer(*request), [self = shared_from_this(), request](error_code ec, std::size_t) {
    if (self->state_ == State::ended) return;
    if (ec) return self->fail_auth("websocket upgrade: " + ec.message());
    asio::async_read_until(self->socket_, asio::dynamic_buffer(self->upgrade_), "\r\n\r\n",
                           [self](error_code ec, std::size_t n) { self->on_upgrade(ec, n); });
  });
}

void WsClient::on_upgrade(error_code ec, std::size_t header_bytes) {
  if (state_ == State::ended) return;
  if (ec) return fail_auth("websocket upgrade: " + ec.message());
  if (upgrade_.compare(0, 12, "HTTP/1.1 101") != 0)
    return fail_auth("websocket upgrade: " + upgrade_.substr(0, upgrade_.find('\r')));
  state_ = State::await_auth_required;
  socket_.non_blocking(true, ec);
  // The server may have sent auth_required right behind its answer.
  std::string leftover = upgrade_.substr(header_bytes);
  upgrade_.clear();
  upgrade_.shrink_to_fit();
  if (!leftover.empty() && !consume(leftover)) return;
  wait_readable();
}

void WsClient::wait_readable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](error_code ec) { self->on_readable(ec); });
}

void WsClient::on_readable(error_code ec) {
  if (state_ == State::ended) return;
  auto& buffer = read_buffer();
  for (int reads = 0; !ec && reads < kReadsPerWakeup; ++reads) {
    auto n = socket_.read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::would_block) {
      ec = {};
      break;
    }
    if (ec) break;
    std::string_view input(buffer.data(), n);
    if (!partial_.empty()) {
      std::string joined = std::move(partial_);
      partial_.clear();
      joined.append(input);
      if (!consume(joined)) return;
    } else if (!consume(input)) {
      return;
    }
    // A short read emptied the socket. Another read would only say would_block: a syscall per
    // wakeup for nothing (async_wait re-arms the descriptor, so data arriving meanwhile wakes us).
    if (n < buffer.size()) break;
  }
  if (ec) {
    // The socket ended without (or right after) a close frame.
    if (state_ != State::ready)
      return fail_auth("connection ended before auth_ok (close code " + std::to_string(peer_close_code_) + ")");
    return end(peer_close_code_);
  }
  wait_readable();
}

bool WsClient::consume(std::string_view input) {
  while (state_ != State::ended) {
    if (input.size() < 2) break;
    auto b0 = static_cast<unsigned char>(input[0]), b1 = static_cast<unsigned char>(input[1]);
    bool fin = b0 & 0x80;
    auto opcode = static_cast<uint8_t>(b0 & 0x0f);
    uint64_t length = b1 & 0x7f;
    size_t header = 2;
    if (length == 126) header = 4;
    if (length == 127) header = 10;
    if (input.size() < header) break;
    if (header > 2) length = big_endian(input.substr(2, header - 2));
    if ((b1 & 0x80) || length > kMaxFrameBytes) {
      if (state_ != State::ready) fail_auth("the server sent a frame imbench cannot read");
      else end(-1);
      return false;
    }
    if (input.size() - header < length) break;
    auto payload = input.substr(header, static_cast<size_t>(length));
    input.remove_prefix(header + static_cast<size_t>(length));
    switch (opcode) {
      case static_cast<uint8_t>(Opcode::continuation):
        message_.append(payload);
        if (fin) {
          std::string whole = std::move(message_);
          message_.clear();
          on_message(whole);
        }
        break;
      case static_cast<uint8_t>(Opcode::text):
      case static_cast<uint8_t>(Opcode::binary):
        if (fin) on_message(payload);
        else message_.assign(payload);
        break;
      case static_cast<uint8_t>(Opcode::ping):
        queue_frame(Opcode::pong, std::string(payload));
        break;
      case static_cast<uint8_t>(Opcode::close): {
        peer_close_code_ = payload.size() >= 2 ? static_cast<int>(big_endian(payload.substr(0, 2))) : im::ws::kNoStatus;
        if (!close_sent_ && !writing_) {
          // Answer the server's close with its code, best effort, then end (RFC 6455 5.5.1).
          close_sent_ = true;
          out_.clear();
          append_masked(Opcode::close, payload.substr(0, std::min<size_t>(payload.size(), 2)));
          error_code ignored;
          socket_.write_some(asio::buffer(out_), ignored);
        }
        if (state_ != State::ready)
          fail_auth("connection ended before auth_ok (close code " + std::to_string(peer_close_code_) + ")");
        else end(peer_close_code_);
        return false;
      }
      case static_cast<uint8_t>(Opcode::pong):
        ++pongs_;
        break;
      default:
        break;
    }
  }
  if (state_ == State::ended) return false;
  partial_.assign(input);
  return true;
}

void WsClient::on_message(std::string_view payload) {
  if (state_ == State::ready) {
    if (!scan_frame(payload, frame_)) return;
    if (frame_.type == "pong") {
      ++pongs_;
      return;
    }
    if (on_frame_) {
      // The handler may end the connection; end() then leaves on_frame_ to be dropped here,
      // not while it runs.
      in_frame_handler_ = true;
      on_frame_(frame_);
      in_frame_handler_ = false;
      if (state_ == State::ended) on_frame_ = nullptr;
    }
    return;
  }
  // Until auth_ok: a few frames per connection, and auth_ok is handed on whole.
  auto frame = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (frame.is_object()) handle(frame);
}

void WsClient::handle(const json& frame) {
  auto type = frame.value("type", std::string());
  switch (state_) {
    case State::await_auth_required:
      if (type == "auth_required") {
        state_ = State::await_auth_ok;
        queue_frame(Opcode::text, auth_frame_);
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
    default:
      return;
  }
}

void WsClient::send(std::string text) {
  if (closing_ || state_ == State::ended) return;
  queue_frame(Opcode::text, std::move(text));
}

void WsClient::send_ws_ping() {
  if (closing_ || state_ == State::ended) return;
  queue_frame(Opcode::ping, "p");
}

void WsClient::ack(uint64_t useq) {
  if (closing_ || state_ == State::ended) return;
  ack_useq_ = std::max(ack_useq_, useq);
  if (ack_pending_) return;
  ack_pending_ = true;
  queue_.emplace_back(Opcode::text, std::string());  // the ACK's place: written with the newest useq
  schedule_flush();
}

void WsClient::queue_frame(Opcode opcode, std::string payload) {
  if (state_ == State::ended || close_sent_) return;
  queue_.emplace_back(opcode, std::move(payload));
  schedule_flush();
}

// Writes happen at the end of the current turn, so that everything the handlers of one read
// queued leaves together.
void WsClient::schedule_flush() {
  if (flush_posted_ || writing_) return;  // a write in flight flushes again when it completes
  flush_posted_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

void WsClient::flush() {
  if (writing_ || state_ == State::ended) return;
  size_t limit = mode_ == WriteMode::batched ? std::numeric_limits<size_t>::max() : 1;
  size_t frames = 0;
  out_.clear();
  while (!queue_.empty() && frames < limit) {
    auto& [opcode, payload] = queue_.front();
    if (opcode == Opcode::text && payload.empty()) {  // the pending ACK, with the newest useq
      append_masked(Opcode::text, R"({"type":"ack","useq":)" + std::to_string(ack_useq_) + "}");
      ack_pending_ = false;
    } else {
      append_masked(opcode, payload);
    }
    queue_.pop_front();
    ++frames;
  }
  if (closing_ && !close_sent_ && queue_.empty() && frames < limit) {
    append_masked(Opcode::close, im::ws::close_payload(im::ws::kNormalClosure, ""));
    close_sent_ = true;  // the server's answering close ends the connection (consume)
    ++frames;
  }
  if (frames == 0) return;
  writing_ = true;
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this()](error_code ec, std::size_t n) { self->on_write(ec, n); });
}

void WsClient::append_masked(Opcode opcode, std::string_view payload) {
  // The server's header encoding (protocol/ws_framer), plus the mask bit a client must set.
  unsigned char header[10];
  auto header_size = im::ws::encode_header(opcode, payload.size(), header);
  header[1] |= 0x80;
  out_.append(reinterpret_cast<const char*>(header), header_size);
  auto size = payload.size();
  // A client must mask (RFC 6455 5.3); xorshift32 is unpredictable enough for a load generator.
  mask_state_ ^= mask_state_ << 13;
  mask_state_ ^= mask_state_ >> 17;
  mask_state_ ^= mask_state_ << 5;
  char mask[4];
  for (int i = 0; i < 4; ++i) mask[i] = static_cast<char>((mask_state_ >> (8 * i)) & 0xff);
  out_.append(mask, 4);
  auto start = out_.size();
  out_.append(payload);
  for (size_t i = 0; i < size; ++i) out_[start + i] = static_cast<char>(out_[start + i] ^ mask[i & 3]);
}

void WsClient::on_write(error_code ec, std::size_t) {
  writing_ = false;
  if (state_ == State::ended) return;
  if (ec) {
    if (state_ != State::ready) return fail_auth("write: " + ec.message());
    return end(-1);
  }
  if (queue_.empty() && on_drained_ && state_ == State::ready && !closing_) on_drained_();
  flush();
}

void WsClient::start_heartbeat(std::chrono::milliseconds interval) {
  heartbeat_interval_ = interval;
  heartbeat();
}

void WsClient::heartbeat() {
  heartbeat_.expires_after(heartbeat_interval_);
  heartbeat_.async_wait([self = shared_from_this()](error_code ec) {
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
  schedule_flush();
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
  error_code ignored;
  socket_.close(ignored);
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
  on_drained_ = nullptr;
  if (!in_frame_handler_) on_frame_ = nullptr;  // scenario callbacks may hold the client; break the cycle
  if (handler) handler(code);
}

}  // namespace imbench
