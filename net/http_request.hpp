#pragma once
// The pure part of reading an HTTP request, before any route runs: the parser's limits, what the
// header decides (WebSocket upgrade, body too large, read the body) and splitting the target.
// Beast's parser and headers only, no sockets or server state, so the fuzzer (fuzz/http_request.cpp)
// runs the same code as the session.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "protocol/options.hpp"

namespace im::net {

namespace beast = boost::beast;
namespace http = beast::http;

using RequestParser = http::request_parser<http::string_body>;

// Largest body the route may receive: files get max_file_bytes, JSON gets max_http_body_bytes.
std::uint64_t body_limit_for(const ServerOptions& options, beast::string_view target);

// Sets the limits of a parser about to read a request header: 16 KiB of header, and a body limit
// of the largest any route allows (Beast checks Content-Length against it while parsing the
// header, before the route is known; check_header() applies the route's own).
void prepare_parser(RequestParser& parser, const ServerOptions& options);

enum class HeaderVerdict {
  websocket,       // an upgrade to /ws: hand the connection over
  wrong_upgrade,   // an upgrade anywhere else: 404
  too_large,       // Content-Length over the route's limit: 413
  read_body,       // read the body (the parser now has the route's limit for chunked bodies)
};

// What to do once the parser has the header (parser.is_header_done()).
HeaderVerdict check_header(RequestParser& parser, const ServerOptions& options);

// A request's path split at '/', without the query string: "/api/users/7" -> {"api","users","7"}.
std::vector<std::string> path_segments(beast::string_view target);
// The value of `name` in the query string, if present.
std::optional<std::string> query_param(beast::string_view target, const std::string& name);

}  // namespace im::net
