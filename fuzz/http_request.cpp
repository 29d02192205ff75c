// The HTTP request path up to the router (net/http_session.cpp, net/http_request.cpp): Beast's
// parser with the session's limits, reading the header first and then the body, in reads of
// varying size; what the header decides (WebSocket handshake, 413, body); then what every route
// does first with a request: split the path, read query parameters, parse ids and conversations,
// and parse a JSON body (net/api_*.cpp). Keep-alive: requests follow one another on one stream.
// The first byte seeds the read sizes, the rest is the stream.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>

#include "fuzz/fuzz_common.hpp"
#include "net/http_request.hpp"
#include "net/ws_handshake.hpp"

namespace http = boost::beast::http;

namespace {

im::ServerOptions fuzz_options() {
  im::ServerOptions o;
  o.max_http_body_bytes = 2048;  // small, so the fuzzer reaches the limits
  o.max_file_bytes = 8192;
  return o;
}

// What the router and the route handlers do before they touch server state.
void route(const im::net::RequestParser& parser) {
  const auto& req = parser.get();
  auto target = req.target();
  auto path = im::net::path_segments(target);
  for (const auto& segment : path) {
    FUZZ_CHECK(!segment.empty() && segment.find('/') == std::string::npos);
    if (auto id = im::parse_decimal_u64(segment)) FUZZ_CHECK(std::to_string(*id) == segment);
    if (auto conv = im::parse_conv(segment)) FUZZ_CHECK(conv->str() == segment);
  }
  for (const char* name : {"before", "limit", "username", "token"})
    if (auto value = im::net::query_param(target, name)) FUZZ_CHECK(value->size() <= target.size());
  auto body = im::parse_json_object(req.body(), im::fuzz::kMaxNesting);
  if (!body.is_discarded()) {
    FUZZ_CHECK(body.is_object());
    (void)body.dump();
  }
  (void)req[http::field::authorization];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const im::ServerOptions options = fuzz_options();
  uint32_t seed = data[0] * 2654435761u + 1;
  auto read_size = [&] {
    seed = seed * 1103515245u + 12345u;
    return size_t{1} + (seed >> 16) % 64;
  };
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  boost::beast::flat_buffer buffer;  // what the session has read and not yet parsed
  // Moves the next read into `buffer`; false at the end of the stream.
  auto read_more = [&] {
    if (stream.empty()) return false;
    size_t n = std::min(stream.size(), read_size());
    auto room = buffer.prepare(n);
    boost::asio::buffer_copy(room, boost::asio::buffer(stream.data(), n));
    buffer.commit(n);
    stream.remove_prefix(n);
    return true;
  };
  // Feeds the parser until `done`; false on a parse error or the end of the stream.
  auto feed = [&](im::net::RequestParser& parser, auto done) {
    while (!done()) {
      boost::beast::error_code ec;
      size_t used = buffer.size() ? parser.put(buffer.data(), ec) : 0;
      buffer.consume(used);
      if (ec && ec != http::error::need_more) return false;
      if (used == 0 || ec == http::error::need_more) {
        // As Beast's read operations: read more, and at the end of the stream tell the parser.
        if (!read_more()) {
          if (!parser.got_some()) return false;  // the client closed between requests
          parser.put_eof(ec);
          return !ec && done();
        }
      }
    }
    return true;
  };

  for (int requests = 0; requests < 16; ++requests) {
    im::net::RequestParser parser;
    im::net::prepare_parser(parser, options);
    parser.eager(false);
    if (!feed(parser, [&] { return parser.is_header_done(); })) return 0;
    switch (im::net::check_header(parser, options)) {
      case im::net::HeaderVerdict::websocket: {
        auto shake = im::net::websocket_handshake(parser.get());
        FUZZ_CHECK(!shake.response.empty());
        return 0;  // the rest of the stream belongs to the WebSocket session
      }
      case im::net::HeaderVerdict::wrong_upgrade:
        continue;  // 404, keep-alive
      case im::net::HeaderVerdict::too_large:
        return 0;  // 413, then the connection closes
      case im::net::HeaderVerdict::read_body:
        break;
    }
    parser.eager(true);
    if (!feed(parser, [&] { return parser.is_done(); })) return 0;
    FUZZ_CHECK(parser.get().body().size() <= im::net::body_limit_for(options, parser.get().target()));
    route(parser);
    if (!parser.get().keep_alive()) return 0;
  }
  return 0;
}
