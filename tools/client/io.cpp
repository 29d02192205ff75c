#include "client/io.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <stdexcept>

namespace imclient {

Endpoint parse_endpoint(const std::string& host_port, bool tls) {
  Endpoint endpoint;
  endpoint.tls = tls;
  std::string host = host_port;
  std::string port;
  if (!host_port.empty() && host_port.front() == '[') {  // [IPv6]:PORT
    const auto close = host_port.find(']');
    if (close == std::string::npos)
      throw std::runtime_error("bad server address '" + host_port + "'");
    host = host_port.substr(1, close - 1);
    if (close + 1 < host_port.size()) {
      if (host_port[close + 1] != ':')
        throw std::runtime_error("bad server address '" + host_port + "'");
      port = host_port.substr(close + 2);
    }
  } else if (const auto colon = host_port.rfind(':'); colon != std::string::npos) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  if (!host.empty()) endpoint.host = host;
  if (!port.empty()) {
    std::size_t used = 0;
    unsigned long value = 0;
    try {
      value = std::stoul(port, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != port.size() || value == 0 || value > 65535)
      throw std::runtime_error("bad port in server address '" + host_port + "'");
    endpoint.port = static_cast<uint16_t>(value);
  }
  return endpoint;
}

std::string host_and_port(const Endpoint& endpoint) {
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

}  // namespace imclient

namespace imclient::detail {

void fail(const std::string& what) { throw std::runtime_error(what); }

net::ssl::context& tls_context() {
  static net::ssl::context context = [] {
    net::ssl::context made(net::ssl::context::tls_client);
    made.set_verify_mode(net::ssl::verify_none);
    return made;
  }();
  return context;
}

std::string describe(const error_code& ec) {
  return ec == beast::error::timeout ? std::string("timed out") : ec.message();
}

namespace {

std::string where(const Endpoint& endpoint) {
  return host_and_port(endpoint) + (endpoint.tls ? " (TLS)" : "");
}

void connect_tcp(net::io_context& ioc, beast::tcp_stream& stream, const Endpoint& endpoint) {
  net::ip::tcp::resolver resolver(ioc);
  error_code ec;
  const auto addresses = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) fail("cannot resolve " + where(endpoint) + ": " + ec.message());
  ec = run_one(ioc, [&](auto handler) { stream.async_connect(addresses, std::move(handler)); });
  if (ec) fail("cannot connect to " + where(endpoint) + ": " + describe(ec));
  stream.socket().set_option(net::ip::tcp::no_delay(true), ec);  // small frames, tests time them
}

}  // namespace

void connect(net::io_context& ioc, PlainStream& stream, const Endpoint& endpoint) {
  connect_tcp(ioc, stream, endpoint);
}

void connect(net::io_context& ioc, TlsStream& stream, const Endpoint& endpoint) {
  connect_tcp(ioc, beast::get_lowest_layer(stream), endpoint);
  error_code ec;
  net::ip::make_address(endpoint.host, ec);
  if (ec)  // a host name, not an address literal: send SNI
    SSL_set_tlsext_host_name(stream.native_handle(), endpoint.host.c_str());
  ec = run_one(ioc, [&](auto handler) {
    stream.async_handshake(net::ssl::stream_base::client, std::move(handler));
  });
  if (ec) fail("TLS handshake with " + where(endpoint) + " failed: " + describe(ec));
}

}  // namespace imclient::detail
