// The WebSocket link: GET /ws upgrade, then one JSON object per text message or one MessagePack
// object per binary message.
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "client/link.hpp"

namespace imclient::detail {

namespace {

namespace websocket = beast::websocket;

template <class NextLayer>
class WebSocketLink final : public Link {
 public:
  template <class... Args>
  WebSocketLink(net::io_context& ioc, Args&&... next_layer_args)
      : ioc_(ioc), ws_(std::forward<Args>(next_layer_args)...) {}

  void open(const Endpoint& endpoint, std::chrono::milliseconds timeout) override {
    beast::get_lowest_layer(ws_).expires_after(timeout);
    connect(ioc_, ws_.next_layer(), endpoint);
    // From here on the websocket's own timers apply. No idle timeout and no keep-alive pings: tests
    // stay silent on purpose to watch the server's heartbeat and idle rules.
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = timeout;  // the opening and the closing handshake
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
      request.set(beast::http::field::user_agent, "imclient");
    }));
    ws_.read_message_max(max_incoming_bytes);
    ws_.auto_fragment(false);  // one frame per message, as the caller wrote it

    websocket::response_type response;
    const error_code ec = run_one(ioc_, [&](auto handler) {
      ws_.async_handshake(response, host_and_port(endpoint), "/ws", std::move(handler));
    });
    if (ec) {
      std::string status;
      if (ec == websocket::error::upgrade_declined)  // the server answered, with another status
        status = " (HTTP " + std::to_string(response.result_int()) + ")";
      fail("WebSocket upgrade at " + host_and_port(endpoint) + "/ws failed: " + describe(ec) +
           status);
    }
  }

  void async_read(ReadHandler handler) override {
    ws_.async_read(buffer_, [this, handler = std::move(handler)](error_code ec, std::size_t) {
      Incoming in;
      if (!ec) {
        in.binary = ws_.got_binary();
        in.bytes = beast::buffers_to_string(buffer_.data());
      }
      buffer_.consume(buffer_.size());
      handler(ec, std::move(in));
    });
  }

  void async_write(const Outgoing& out, WriteHandler handler) override {
    auto done = [handler = std::move(handler)](error_code ec, auto&&...) { handler(ec); };
    switch (out.kind) {
      case Outgoing::Kind::text:
        ws_.text(true);
        ws_.async_write(net::buffer(out.bytes), std::move(done));
        return;
      case Outgoing::Kind::binary:
      case Outgoing::Kind::unframed:
        ws_.binary(true);
        ws_.async_write(net::buffer(out.bytes), std::move(done));
        return;
      case Outgoing::Kind::wire:  // past the WebSocket layer, straight to the socket (or TLS)
        net::async_write(ws_.next_layer(), net::buffer(out.bytes), std::move(done));
        return;
      case Outgoing::Kind::ping:
        ws_.async_ping({}, std::move(done));
        return;
      case Outgoing::Kind::close:
        ws_.async_close(websocket::close_code::normal, std::move(done));
        return;
    }
  }

  void abort() override {
    error_code ignored;
    auto& tcp = beast::get_lowest_layer(ws_);
    tcp.socket().shutdown(net::socket_base::shutdown_both, ignored);
    tcp.close();
  }

  int close_code() const override {
    const auto code = ws_.reason().code;
    return code == websocket::close_code::none ? -1 : static_cast<int>(code);
  }

  std::string close_reason() const override {
    const auto& reason = ws_.reason().reason;
    return std::string(reason.data(), reason.size());
  }

 private:
  net::io_context& ioc_;
  websocket::stream<NextLayer> ws_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::unique_ptr<Link> make_websocket_link(net::io_context& ioc, bool tls) {
  if (tls) return std::make_unique<WebSocketLink<TlsStream>>(ioc, ioc, tls_context());
  return std::make_unique<WebSocketLink<PlainStream>>(ioc, ioc);
}

}  // namespace imclient::detail
