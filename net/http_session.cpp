// An HTTP/1.1 connection with keep-alive: reads a request (header first, so the body limit can
// depend on the route), answers it through the API, and hands WebSocket upgrades at /ws over.

#include "net/http_api.hpp"
#include "net/sessions.hpp"

namespace im::net {

namespace {

template <class Stream>
class HttpSession final : public Closable, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer)
      : state_(std::move(state)), stream_(std::move(stream)), buffer_(std::move(buffer)) {}

  ~HttpSession() override {
    if (joined_) state_->leave(this);
  }

  void run() {
    state_->join(this);
    joined_ = true;
    do_read();
  }

  void close_for_shutdown() override {
    // The destructor may be running already (waiting in leave()): nothing left to close then.
    auto self = this->weak_from_this().lock();
    if (!self) return;
    // Moved into the handler: the caller keeps no reference. Were it the last one, the destructor
    // would run here, on a thread that may hold the session registry's lock (close_all).
    auto executor = stream_.get_executor();
    asio::post(executor, [self = std::move(self)] {
      beast::error_code ignored;
      lowest_socket(self->stream_).shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

 private:
  void do_read() {
    parser_.emplace();
    prepare_parser(*parser_, state_->options);
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(state_->options.http_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::on_header, this->shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    auto& req = parser_->get();
    auto verdict = check_header(*parser_, state_->options);
    if (verdict == HeaderVerdict::wrong_upgrade) {
      reply(error_response(req, http::status::not_found, "not_found", "WebSocket lives at /ws"));
      return;
    }
    if (verdict == HeaderVerdict::websocket) {
      // --max-connections-per-ip: the WebSocket session leaves the count when it ends.
      auto address = peer_address(lowest_socket(stream_));
      if (!state_->connections_per_address.try_enter(address, state_->options.max_connections_per_ip)) {
        state_->runtime.counters().connections_rejected_per_ip++;
        spdlog::info("ws {}: refused, already {} connections from this address", address,
                     state_->options.max_connections_per_ip);
        auto res = error_response(req, Error::rate_limited, "too many connections from your address");
        res.keep_alive(false);
        return reply(std::move(res));
      }
      beast::get_lowest_layer(stream_).expires_never();
      state_->leave(this);
      joined_ = false;
      start_websocket(state_, std::move(stream_), parser_->release(), std::move(buffer_));
      return;
    }
    if (verdict == HeaderVerdict::too_large) return on_error(http::error::body_limit);
    // A client that asked "Expect: 100-continue" (curl does for large uploads) waits for this
    // before sending the body; Beast does not send it by itself.
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
      http::async_write(stream_, *go_on, [self = this->shared_from_this(), go_on](beast::error_code ec, std::size_t) {
        if (ec) return self->on_error(ec);
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_body, this->shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    auto req = parser_->release();
    auto self = this->shared_from_this();
    auto executor = stream_.get_executor();
    handle_http(state_, std::move(req), peer_address(lowest_socket(stream_)),
                [self, executor](http::response<http::string_body> res) {
                  asio::post(executor, [self, res = std::move(res)]() mutable { self->reply(std::move(res)); });
                });
  }

  void on_error(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      auto res = error_response(parser_->get(), http::status::payload_too_large, "too_large",
                                "request body is too large");
      res.keep_alive(false);
      linger_ = true;  // the client may still be sending the body
      return reply(std::move(res));
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
      return shutdown();
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      http::request<http::string_body> none;
      auto res = error_response(none, http::status::bad_request, "bad_request", "malformed HTTP request");
      res.keep_alive(false);
      return reply(std::move(res));
    }
    fail(ec, "http read");
    shutdown();
  }

  void reply(http::response<http::string_body> res) {
    res.prepare_payload();
    auto response = std::make_shared<http::response<http::string_body>>(std::move(res));
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::milliseconds(state_->options.http_timeout_ms));
    http::async_write(stream_, *response,
                      [self = this->shared_from_this(), response](beast::error_code ec, std::size_t) {
                        if (ec) {
                          fail(ec, "http write");
                          return self->shutdown();
                        }
                        if (!response->keep_alive() || self->state_->stopping) {
                          self->shutdown();
                          if (self->linger_) self->drain();
                          return;
                        }
                        self->do_read();
                      });
  }

  void shutdown() {
    beast::error_code ignored;
    lowest_socket(stream_).shutdown(tcp::socket::shutdown_send, ignored);
  }

  // Lingering close after a 413: reads and drops what the client still sends, until it closes
  // or http_timeout_ms passes. Closing with unread data would reset the connection, and a reset
  // can destroy the 413 in the client's buffers before the client reads it.
  void drain() {
    if (discard_.empty()) {
      discard_.resize(16 * 1024);
      beast::get_lowest_layer(stream_).expires_after(
          std::chrono::milliseconds(state_->options.http_timeout_ms));
    }
    stream_.async_read_some(asio::buffer(discard_), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->drain();
    });
  }

  std::shared_ptr<SharedState> state_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool joined_ = false;
  bool linger_ = false;          // drain the request after the answer (see drain)
  std::vector<char> discard_;    // drain's buffer
};

}  // namespace

template <class Stream>
void start_http(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer) {
  std::make_shared<HttpSession<Stream>>(std::move(state), std::move(stream), std::move(buffer))->run();
}

template void start_http<PlainStream>(std::shared_ptr<SharedState>, PlainStream, beast::flat_buffer);
template void start_http<TlsStream>(std::shared_ptr<SharedState>, TlsStream, beast::flat_buffer);

}  // namespace im::net
