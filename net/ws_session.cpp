// A WebSocket connection: reads frames, decodes them, hands them to the connection actor; writes
// what the actor sends, one write in flight, from a bounded queue (Beast chat-multi's
// websocket_session).

#include "net/outbound_queue.hpp"
#include "net/sessions.hpp"
#include "protocol/codec.hpp"

namespace im::net {

namespace {

// Close code for a client whose outbound queue overflowed: it is not reading.
constexpr int kTooSlowCloseCode = 1008;

template <class Stream>
class WsSession final : public Session,
                        public Closable,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(std::shared_ptr<SharedState> state, Stream stream)
      : state_(std::move(state)),
        ws_(std::move(stream)),
        queue_(static_cast<size_t>(state_->options.send_queue_frames)),
        address_(peer_address(lowest_socket(ws_.next_layer()))) {}

  // Every WebSocket session was counted by the HTTP session that upgraded it (try_enter).
  ~WsSession() override {
    state_->connections_per_address.leave(address_);
    state_->leave(this);
  }

  void run(http::request<http::string_body> upgrade) {
    state_->join(this);
    // Our own actor handles idle detection and heartbeats; Beast only bounds the handshake.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(timeouts);
    ws_.read_message_max(static_cast<std::uint64_t>(state_->options.max_frame_bytes));
    ws_.auto_fragment(false);
    ws_.async_accept(upgrade, beast::bind_front_handler(&WsSession::on_accept, this->shared_from_this()));
  }

  // Session: called from actor threads.
  void send_frame(std::shared_ptr<const std::string> payload, bool binary) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), payload = std::move(payload),
                                    binary]() mutable { self->enqueue({std::move(payload), binary}); });
  }

  void close(int code, const std::string& reason) override {
    // Shutdown may reach a session whose destructor is already running (it waits in leave()):
    // then there is nothing left to close.
    auto self = this->weak_from_this().lock();
    if (!self) return;
    asio::post(ws_.get_executor(), [self, code, reason] { self->begin_close(code, reason); });
  }

  void close_for_shutdown() override { close(1001, "server shutting down"); }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return fail(ec, "ws accept");
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind != websocket::frame_type::close && link_) link_->activity();
    });
    SessionInfo info{peer_address(lowest_socket(ws_.next_layer())), is_tls<Stream>() ? "wss" : "ws"};
    link_ = state_->runtime.open_connection(this->weak_from_this(), std::move(info), Clock::now(), true);
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t bytes) {
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        // Beast has already sent close 1009.
        spdlog::debug("ws {}: frame over max_frame_bytes", peer());
      } else {
        fail(ec, "ws read");
      }
      finish();
      return;
    }
    auto encoding = ws_.got_binary() ? Encoding::msgpack : Encoding::json;
    auto data = buffer_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    auto decoded = decode_frame(text, encoding);
    Inbound in;
    in.status = decoded.status;
    in.message = std::move(decoded.message);
    in.encoding = encoding;
    in.bytes = bytes;
    if (decoded.status == DecodeStatus::ok)
      in.frame = std::make_shared<const nlohmann::json>(std::move(decoded.value));
    buffer_.consume(buffer_.size());
    link_->deliver(std::move(in));
    // Keep reading while closing too: the peer's close reply ends the loop.
    do_read();
  }

  void enqueue(OutboundFrame frame) {
    if (closing_) return;
    if (!queue_.push(std::move(frame))) {
      spdlog::info("ws {}: client is not reading, disconnecting", peer());
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
    if (!writing_) write_next();
  }

  void write_next() {
    if (!queue_.empty()) {
      writing_ = true;
      auto& frame = queue_.front();
      ws_.binary(frame.binary);
      ws_.async_write(asio::buffer(*frame.payload),
                      beast::bind_front_handler(&WsSession::on_write, this->shared_from_this()));
      return;
    }
    if (auto& close = queue_.close_requested(); close && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      // A close must not hang on a peer that stopped reading.
      beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(5));
      ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close->code), close->reason),
                      beast::bind_front_handler(&WsSession::on_close, this->shared_from_this()));
    }
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      fail(ec, "ws write");
      queue_.clear();
      closing_ = true;
      beast::error_code ignored;
      lowest_socket(ws_.next_layer()).close(ignored);
      return;
    }
    queue_.pop();
    write_next();
  }

  void on_close(beast::error_code ec) {
    writing_ = false;
    if (ec) fail(ec, "ws close");
    // The pending read completes with `closed` (or an error) and calls finish().
    beast::error_code ignored;
    if (ec) lowest_socket(ws_.next_layer()).close(ignored);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (link_) link_->closed();
    beast::error_code ignored;
    lowest_socket(ws_.next_layer()).close(ignored);
  }

  std::string peer() { return peer_address(lowest_socket(ws_.next_layer())); }

  std::shared_ptr<SharedState> state_;
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  OutboundQueue queue_;
  std::unique_ptr<ConnectionLink> link_;
  std::string address_;  // counted in connections_per_address
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool finished_ = false;
};

}  // namespace

template <class Stream>
void start_websocket(std::shared_ptr<SharedState> state, Stream stream,
                     http::request<http::string_body> upgrade) {
  std::make_shared<WsSession<Stream>>(std::move(state), std::move(stream))->run(std::move(upgrade));
}

template void start_websocket<PlainStream>(std::shared_ptr<SharedState>, PlainStream,
                                           http::request<http::string_body>);
template void start_websocket<TlsStream>(std::shared_ptr<SharedState>, TlsStream,
                                         http::request<http::string_body>);

}  // namespace im::net
