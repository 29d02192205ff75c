// Internal plumbing shared by http.cpp and the links: errors, TLS context, connecting, and running
// one asynchronous operation synchronously with a deadline. Not part of the public API.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <string>

#include "client/endpoint.hpp"
#include "client/fail.hpp"

namespace imclient::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;

// Timeouts live on the lowest layer (beast::tcp_stream expiry), which only asynchronous operations
// honour; that is why even the "blocking" paths of this library run asynchronous operations.
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The client TLS context shared by every connection: no certificate verification.
net::ssl::context& tls_context();

// Starts an asynchronous operation by calling `start(handler)`, then runs `ioc` in the calling
// thread until the handler has run, and returns the operation's error. `ioc` must have no other
// work (nor a thread running it), so that run() returns exactly when the operation is done.
template <class Start>
error_code run_one(net::io_context& ioc, Start&& start) {
  error_code result = net::error::operation_aborted;  // kept if the handler never runs
  start([&result](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// Resolves `endpoint` and connects `stream`, plus the TLS handshake for a TlsStream, all within the
// expiry already set on the stream's lowest layer. Throws (via fail) naming the endpoint.
void connect(net::io_context& ioc, PlainStream& stream, const Endpoint& endpoint);
void connect(net::io_context& ioc, TlsStream& stream, const Endpoint& endpoint);

// "timed out" for beast's timeout error, else the error's message: for failure texts.
std::string describe(const error_code& ec);

}  // namespace imclient::detail
