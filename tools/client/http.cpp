#include "client/http.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <limits>

#include "client/io.hpp"

namespace imclient {

namespace {

namespace beast = boost::beast;
namespace http_ = boost::beast::http;
namespace net = boost::asio;
using detail::error_code;
using detail::fail;

using Request = http_::request<http_::string_body>;

Request make_request(const Endpoint& endpoint, const std::string& method, const std::string& target,
                     const std::string& body, const std::string& token,
                     const std::string& content_type) {
  const http_::verb verb = http_::string_to_verb(method);
  if (verb == http_::verb::unknown) fail("unknown HTTP method '" + method + "'");
  Request request{verb, target, 11};
  request.set(http_::field::host, host_and_port(endpoint));
  request.set(http_::field::user_agent, "imclient");
  request.set(http_::field::connection, "close");
  if (!token.empty()) request.set(http_::field::authorization, "Bearer " + token);
  if (!body.empty() || verb == http_::verb::post || verb == http_::verb::put)
    request.set(http_::field::content_type, content_type);
  request.body() = body;
  request.prepare_payload();
  return request;
}

template <class Stream>
HttpResponse exchange(net::io_context& ioc, Stream& stream, const Endpoint& endpoint,
                      const Request& request, std::chrono::milliseconds timeout) {
  const std::string what = std::string(request.method_string()) + " " +
                           std::string(request.target()) + " at " + host_and_port(endpoint);
  beast::get_lowest_layer(stream).expires_after(timeout);
  detail::connect(ioc, stream, endpoint);

  const error_code write_error = detail::run_one(
      ioc, [&](auto handler) { http_::async_write(stream, request, std::move(handler)); });

  // Read even after a failed write: the server may have answered early and closed.
  beast::flat_buffer buffer;
  http_::response_parser<http_::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.skip(request.method() == http_::verb::head);  // its Content-Length announces no body
  const error_code read_error = detail::run_one(
      ioc, [&](auto handler) { http_::async_read(stream, buffer, parser, std::move(handler)); });
  if (read_error) {
    const error_code& cause = write_error ? write_error : read_error;
    const bool timed_out = cause == beast::error::timeout;
    fail(what + " failed: " + detail::describe(cause) +
         (timed_out ? " (limit " + std::to_string(timeout.count()) + " ms)" : ""));
  }

  error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(net::socket_base::shutdown_both, ignored);

  const auto& response = parser.get();
  HttpResponse result;
  result.status = static_cast<int>(response.result_int());
  result.body = response.body();
  if (const auto type = response.find(http_::field::content_type); type != response.end())
    result.content_type = std::string(type->value());
  return result;
}

}  // namespace

nlohmann::json HttpResponse::json() const {
  if (body.empty()) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

HttpResponse http(const Endpoint& endpoint, const std::string& method, const std::string& target,
                  const std::string& body, const std::string& token,
                  const std::string& content_type, std::chrono::milliseconds timeout) {
  const Request request = make_request(endpoint, method, target, body, token, content_type);
  net::io_context ioc;
  if (endpoint.tls) {
    detail::TlsStream stream(ioc, detail::tls_context());
    return exchange(ioc, stream, endpoint, request, timeout);
  }
  detail::PlainStream stream(ioc);
  return exchange(ioc, stream, endpoint, request, timeout);
}

}  // namespace imclient
