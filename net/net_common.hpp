#pragma once
// Shared by the net layer's translation units only.

#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <spdlog/spdlog.h>

namespace im::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Logs a failed operation, except the expected ones: cancellation and a peer that went away.
inline void fail(beast::error_code ec, const char* what) {
  if (ec == asio::error::operation_aborted || ec == beast::error::timeout ||
      ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == websocket::error::closed || ec == asio::error::broken_pipe ||
      ec == ssl::error::stream_truncated)
    return;
  spdlog::debug("{}: {}", what, ec.message());
}

inline tcp::socket& lowest_socket(PlainStream& s) { return s.socket(); }
inline tcp::socket& lowest_socket(TlsStream& s) { return beast::get_lowest_layer(s).socket(); }

inline std::string peer_address(tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string();
}

template <class Stream>
constexpr bool is_tls() {
  return std::is_same<Stream, TlsStream>::value;
}

}  // namespace im::net
