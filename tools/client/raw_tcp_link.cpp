// The raw TCP link: frames of a 4-byte big-endian length N followed by N bytes, both ways.
#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include "client/link.hpp"

namespace imclient::detail {

namespace {

using LengthPrefix = std::array<unsigned char, 4>;

LengthPrefix encode_length(std::size_t size) {
  const auto n = static_cast<std::uint32_t>(size);
  return {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
          static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
}

std::size_t decode_length(const LengthPrefix& prefix) {
  return (std::size_t{prefix[0]} << 24) | (std::size_t{prefix[1]} << 16) |
         (std::size_t{prefix[2]} << 8) | std::size_t{prefix[3]};
}

template <class Stream>
class RawTcpLink final : public Link {
 public:
  template <class... Args>
  RawTcpLink(net::io_context& ioc, Args&&... stream_args)
      : ioc_(ioc), stream_(std::forward<Args>(stream_args)...) {}

  void open(const Endpoint& endpoint, std::chrono::milliseconds timeout) override {
    beast::get_lowest_layer(stream_).expires_after(timeout);
    connect(ioc_, stream_, endpoint);
    beast::get_lowest_layer(stream_).expires_never();  // reads wait as long as the caller wants
  }

  void async_read(ReadHandler handler) override {
    net::async_read(stream_, net::buffer(in_prefix_),
                    [this, handler = std::move(handler)](error_code ec, std::size_t) mutable {
                      if (ec) return handler(ec, Incoming{});
                      const std::size_t size = decode_length(in_prefix_);
                      if (size > max_incoming_bytes)
                        return handler(net::error::message_size, Incoming{});
                      read_body(size, std::move(handler));
                    });
  }

  void async_write(const Outgoing& out, WriteHandler handler) override {
    auto done = [handler = std::move(handler)](error_code ec, auto&&...) { handler(ec); };
    switch (out.kind) {
      case Outgoing::Kind::text:
      case Outgoing::Kind::binary: {
        out_prefix_ = encode_length(out.bytes.size());
        const std::array<net::const_buffer, 2> frame{net::buffer(out_prefix_),
                                                     net::buffer(out.bytes)};
        net::async_write(stream_, frame, std::move(done));
        return;
      }
      case Outgoing::Kind::unframed:
      case Outgoing::Kind::wire:
        net::async_write(stream_, net::buffer(out.bytes), std::move(done));
        return;
      case Outgoing::Kind::ping:  // no control frames on raw TCP
        net::post(ioc_, [done = std::move(done)]() mutable { done(error_code{}); });
        return;
      case Outgoing::Kind::close: {  // no close handshake either: end our side, the server follows
        error_code ec;
        beast::get_lowest_layer(stream_).socket().shutdown(net::socket_base::shutdown_send, ec);
        net::post(ioc_, [done = std::move(done), ec]() mutable { done(ec); });
        return;
      }
    }
  }

  void abort() override {
    error_code ignored;
    auto& tcp = beast::get_lowest_layer(stream_);
    tcp.socket().shutdown(net::socket_base::shutdown_both, ignored);
    tcp.close();
  }

  int close_code() const override { return -1; }
  std::string close_reason() const override { return {}; }

 private:
  void read_body(std::size_t size, ReadHandler handler) {
    in_body_.clear();
    in_body_.resize(size);
    net::async_read(stream_, net::buffer(in_body_),
                    [this, handler = std::move(handler)](error_code ec, std::size_t) {
                      Incoming in;
                      if (!ec) in.bytes = std::move(in_body_);
                      handler(ec, std::move(in));
                    });
  }

  net::io_context& ioc_;
  Stream stream_;
  LengthPrefix in_prefix_{};
  std::string in_body_;
  LengthPrefix out_prefix_{};
};

}  // namespace

std::unique_ptr<Link> make_raw_tcp_link(net::io_context& ioc, bool tls) {
  if (tls) return std::make_unique<RawTcpLink<TlsStream>>(ioc, ioc, tls_context());
  return std::make_unique<RawTcpLink<PlainStream>>(ioc, ioc);
}

}  // namespace imclient::detail
