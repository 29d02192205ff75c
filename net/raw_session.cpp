// A raw TCP connection (PROTOCOL.md section 1): 4-byte big-endian length, then that many bytes of
// JSON, both ways. Where a WebSocket would get a close code, the client first gets
// {"type":"close","code":N,"reason":"..."} as its last frame.

#include "net/outbound_queue.hpp"
#include "net/sessions.hpp"
#include "protocol/codec.hpp"
#include "protocol/frames.hpp"
#include "protocol/raw_framer.hpp"

namespace im::net {

namespace {

constexpr int kTooSlowCloseCode = 1008;
// Policy violation: the client's address already has --max-connections-per-ip connections.
constexpr int kTooManyConnectionsCloseCode = 1008;

template <class Stream>
class RawSession final : public Session,
                         public Closable,
                         public std::enable_shared_from_this<RawSession<Stream>> {
 public:
  RawSession(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer)
      : state_(std::move(state)),
        stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        queue_(static_cast<size_t>(state_->options.send_queue_frames)) {}

  ~RawSession() override {
    if (counted_) state_->connections_per_address.leave(address_);
    state_->leave(this);
  }

  void run(Clock::time_point accepted) {
    state_->join(this);
    beast::get_lowest_layer(stream_).expires_never();
    address_ = peer_address(lowest_socket(stream_));
    if (!state_->connections_per_address.try_enter(address_, state_->options.max_connections_per_ip)) {
      refuse_too_many();
      return;
    }
    counted_ = true;
    SessionInfo info{address_, is_tls<Stream>() ? "tls" : "tcp"};
    link_ = state_->runtime.open_connection(this->weak_from_this(), std::move(info), accepted, false);
    read_prefix();
  }

  void send_frame(std::shared_ptr<const std::string> payload, bool) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), payload = std::move(payload)]() mutable {
      self->enqueue(std::move(payload));
    });
  }

  void close(int code, const std::string& reason) override {
    // Shutdown may reach a session whose destructor is already running (it waits in leave()):
    // then there is nothing left to close.
    auto self = this->weak_from_this().lock();
    if (!self) return;
    // Moved into the handler: the caller keeps no reference. Were it the last one, the destructor
    // would run here, on a thread that may hold the session registry's lock (close_all).
    auto executor = stream_.get_executor();
    asio::post(executor, [self = std::move(self), code, reason] { self->begin_close(code, reason); });
  }

  void close_for_shutdown() override { close(1001, "server shutting down"); }

 private:
  // Makes sure `buffer_` holds at least `n` bytes, then calls `next`. (Reads into the buffer's
  // own storage: asio's dynamic-buffer reads would fill a copy of a beast::flat_buffer.)
  template <class Next>
  void fill(std::size_t n, Next next) {
    if (buffer_.size() >= n) {
      next();
      return;
    }
    auto room = buffer_.prepare(std::max<std::size_t>(n - buffer_.size(), 4096));
    stream_.async_read_some(room, [self = this->shared_from_this(), n, next](beast::error_code ec, std::size_t got) {
      if (ec) {
        fail(ec, "raw read");
        self->finish();
        return;
      }
      self->buffer_.commit(got);
      self->fill(n, next);
    });
  }

  void read_prefix() {
    fill(4, [self = this->shared_from_this()] { self->on_prefix(); });
  }

  void on_prefix() {
    unsigned char prefix[4];
    asio::buffer_copy(asio::buffer(prefix), buffer_.cdata());
    auto length = parse_length_prefix(prefix, static_cast<uint64_t>(state_->options.max_frame_bytes));
    if (length.status == LengthStatus::too_large) {
      spdlog::debug("tcp {}: frame of {} bytes is over max_frame_bytes", peer(), length.length);
      begin_close(1009, "frame too big");
      return;  // stop reading: the rest of the stream cannot be framed
    }
    if (length.status == LengthStatus::empty) {
      begin_close(4000, "empty frame");
      return;
    }
    buffer_.consume(4);
    auto n = static_cast<std::size_t>(length.length);
    fill(n, [self = this->shared_from_this(), n] { self->on_frame(n); });
  }

  void on_frame(std::size_t n) {
    auto data = buffer_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), n);
    auto decoded = decode_frame(text, Encoding::json);
    Inbound in;
    in.status = decoded.status;
    in.message = std::move(decoded.message);
    in.encoding = Encoding::json;
    in.bytes = n + 4;
    if (decoded.status == DecodeStatus::ok)
      in.frame = std::make_shared<const nlohmann::json>(std::move(decoded.value));
    buffer_.consume(n);
    link_->deliver(std::move(in));
    if (!closing_) read_prefix();
  }

  void enqueue(std::shared_ptr<const std::string> payload) {
    if (closing_) return;
    auto framed = std::make_shared<const std::string>(length_prefixed(*payload));
    if (!queue_.push({std::move(framed), false})) {
      spdlog::info("tcp {}: client is not reading, disconnecting", peer());
      queue_.clear();
      begin_close(kTooSlowCloseCode, "too slow");
      return;
    }
    if (!writing_) write_next();
  }

  void begin_close(int code, const std::string& reason) {
    if (closing_) return;
    closing_ = true;
    queue_.request_close(code, reason);
    auto frame = frames::close(code, reason).dump();
    queue_.push({std::make_shared<const std::string>(length_prefixed(frame)), false});
    // A close must not hang on a peer that stopped reading.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    if (!writing_) write_next();
  }

  // --max-connections-per-ip: an error frame, the close frame, then a lingering close (the
  // client's unread auth frame would otherwise reset the connection and could destroy the close
  // frame before the client reads it).
  void refuse_too_many() {
    state_->runtime.counters().connections_rejected_per_ip++;
    spdlog::info("tcp {}: refused, already {} connections from this address", address_,
                 state_->options.max_connections_per_ip);
    refused_ = true;
    auto error = frames::error(Error::rate_limited, "too many connections from your address").dump();
    queue_.push({std::make_shared<const std::string>(length_prefixed(error)), false});
    begin_close(kTooManyConnectionsCloseCode, "too many connections from your address");
  }

  void drain_then_close() {
    auto room = buffer_.prepare(4096);
    stream_.async_read_some(room, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) return self->drain_then_close();
      beast::error_code ignored;
      lowest_socket(self->stream_).close(ignored);
    });
  }

  void write_next() {
    if (queue_.empty()) {
      if (closing_ && refused_) {
        beast::error_code ignored;
        lowest_socket(stream_).shutdown(tcp::socket::shutdown_send, ignored);
        drain_then_close();
        return;
      }
      if (closing_) shutdown_socket();
      return;
    }
    writing_ = true;
    asio::async_write(stream_, asio::buffer(*queue_.front().payload),
                      beast::bind_front_handler(&RawSession::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      fail(ec, "raw write");
      queue_.clear();
      closing_ = true;
      shutdown_socket();
      return;
    }
    queue_.pop();
    write_next();
  }

  void shutdown_socket() {
    beast::error_code ignored;
    lowest_socket(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    lowest_socket(stream_).close(ignored);
    finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (link_) link_->closed();
  }

  std::string peer() { return peer_address(lowest_socket(stream_)); }

  std::shared_ptr<SharedState> state_;
  Stream stream_;
  beast::flat_buffer buffer_;
  OutboundQueue queue_;
  std::unique_ptr<ConnectionLink> link_;
  std::string address_;
  bool counted_ = false;  // counted in connections_per_address
  bool refused_ = false;  // over --max-connections-per-ip
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

}  // namespace

template <class Stream>
void start_raw(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer,
               Clock::time_point accepted) {
  std::make_shared<RawSession<Stream>>(std::move(state), std::move(stream), std::move(buffer))
      ->run(accepted);
}

template void start_raw<PlainStream>(std::shared_ptr<SharedState>, PlainStream, beast::flat_buffer,
                                     Clock::time_point);
template void start_raw<TlsStream>(std::shared_ptr<SharedState>, TlsStream, beast::flat_buffer,
                                   Clock::time_point);

}  // namespace im::net
