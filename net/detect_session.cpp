// The first step of every connection: TLS or not (when a certificate is configured), then HTTP
// or raw TCP by the first bytes (PROTOCOL.md section 1).

#include "net/sessions.hpp"
#include "protocol/raw_framer.hpp"

namespace im::net {

namespace {

// Reads until the first bytes tell HTTP from raw TCP, then hands the stream over.
template <class Stream>
class Sniffer : public std::enable_shared_from_this<Sniffer<Stream>> {
 public:
  Sniffer(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer,
          Clock::time_point accepted)
      : state_(std::move(state)), stream_(std::move(stream)), buffer_(std::move(buffer)), accepted_(accepted) {}

  void run() { decide(); }

 private:
  void decide() {
    auto data = buffer_.cdata();
    auto verdict = sniff_transport({static_cast<const char*>(data.data()), data.size()});
    if (verdict == Sniffed::http) return start_http(state_, std::move(stream_), std::move(buffer_));
    if (verdict == Sniffed::raw_tcp)
      return start_raw(state_, std::move(stream_), std::move(buffer_), accepted_);
    auto room = buffer_.prepare(64);
    stream_.async_read_some(room, [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return fail(ec, "sniff");
      self->buffer_.commit(n);
      self->decide();
    });
  }

  std::shared_ptr<SharedState> state_;
  Stream stream_;
  beast::flat_buffer buffer_;
  Clock::time_point accepted_;
};

class Detector : public std::enable_shared_from_this<Detector> {
 public:
  Detector(std::shared_ptr<SharedState> state, tcp::socket socket)
      : state_(std::move(state)), stream_(std::move(socket)), accepted_(Clock::now()) {}

  void run() {
    // Until its first bytes tell the transport, a connection is unauthenticated like any other:
    // one that sends nothing (or too little to tell) is dropped at the auth deadline, counted from
    // accept (PROTOCOL.md section 4). There is no transport yet to send a close frame on, so the
    // socket just closes. The expiry stays armed through the TLS handshake and the sniffing; HTTP
    // and raw sessions set their own timers when they take over.
    stream_.expires_after(std::chrono::milliseconds(state_->options.auth_timeout_ms));
    if (!state_->tls) return sniff_plain();
    beast::async_detect_ssl(stream_, buffer_,
                            beast::bind_front_handler(&Detector::on_detect, shared_from_this()));
  }

 private:
  void sniff_plain() {
    std::make_shared<Sniffer<PlainStream>>(state_, std::move(stream_), std::move(buffer_), accepted_)->run();
  }

  void on_detect(beast::error_code ec, bool tls) {
    if (ec) return fail(ec, "detect");
    if (!tls) return sniff_plain();
    auto stream = std::make_shared<TlsStream>(std::move(stream_), *state_->tls);
    stream->async_handshake(ssl::stream_base::server, buffer_.data(),
                            [self = shared_from_this(), stream](beast::error_code ec, std::size_t used) {
                              if (ec) return fail(ec, "tls handshake");
                              self->buffer_.consume(used);
                              std::make_shared<Sniffer<TlsStream>>(self->state_, std::move(*stream),
                                                                   std::move(self->buffer_), self->accepted_)
                                  ->run();
                            });
  }

  std::shared_ptr<SharedState> state_;
  PlainStream stream_;
  beast::flat_buffer buffer_;
  Clock::time_point accepted_;
};

}  // namespace

void start_detect(std::shared_ptr<SharedState> state, tcp::socket socket) {
  std::make_shared<Detector>(std::move(state), std::move(socket))->run();
}

}  // namespace im::net
