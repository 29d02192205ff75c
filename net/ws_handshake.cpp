#include "net/ws_handshake.hpp"

#include <sstream>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>

namespace im::net {

namespace {

namespace websocket = beast::websocket;

std::string serialize(http::response<http::string_body>& response) {
  response.prepare_payload();
  std::ostringstream out;
  out << response;
  return out.str();
}

HandshakeResult refuse(const http::request<http::string_body>& request, http::status status,
                       const std::string& why) {
  http::response<http::string_body> response{status, request.version()};
  response.set(http::field::content_type, "text/plain");
  response.set(http::field::connection, "close");
  if (status == http::status::upgrade_required) response.set(http::field::sec_websocket_version, "13");
  response.body() = why + "\n";
  return {false, serialize(response)};
}

}  // namespace

HandshakeResult websocket_handshake(const http::request<http::string_body>& request) {
  if (request.method() != http::verb::get) return refuse(request, http::status::bad_request, "WebSocket upgrade needs GET");
  if (request.version() < 11) return refuse(request, http::status::bad_request, "WebSocket upgrade needs HTTP/1.1");
  auto key = request[http::field::sec_websocket_key];
  if (key.size() != beast::detail::base64::encoded_size(16))
    return refuse(request, http::status::bad_request, "missing or malformed Sec-WebSocket-Key");
  if (request[http::field::sec_websocket_version] != "13")
    return refuse(request, http::status::upgrade_required, "WebSocket version 13 only");
  websocket::detail::sec_ws_accept_type accept;
  websocket::detail::make_sec_ws_accept(accept, key);
  std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  response += "Sec-WebSocket-Accept: ";
  response.append(accept.data(), accept.size());
  response += "\r\n\r\n";
  return {true, std::move(response)};
}

}  // namespace im::net
