#include "net/http_request.hpp"

#include <algorithm>

#include <boost/beast/websocket/rfc6455.hpp>

namespace im::net {

std::uint64_t body_limit_for(const ServerOptions& options, beast::string_view target) {
  if (target.substr(0, 10) == "/api/files") return static_cast<std::uint64_t>(options.max_file_bytes);
  return static_cast<std::uint64_t>(options.max_http_body_bytes);
}

void prepare_parser(RequestParser& parser, const ServerOptions& options) {
  parser.header_limit(16 * 1024);
  parser.body_limit(std::max(body_limit_for(options, "/api/files"), body_limit_for(options, "/")));
}

HeaderVerdict check_header(RequestParser& parser, const ServerOptions& options) {
  auto& req = parser.get();
  if (beast::websocket::is_upgrade(req)) return req.target() == "/ws" ? HeaderVerdict::websocket : HeaderVerdict::wrong_upgrade;
  auto limit = body_limit_for(options, req.target());
  if (parser.content_length() && *parser.content_length() > limit) return HeaderVerdict::too_large;
  parser.body_limit(limit);  // for chunked bodies
  return HeaderVerdict::read_body;
}

std::vector<std::string> path_segments(beast::string_view target) {
  auto path = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == beast::string_view::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

std::optional<std::string> query_param(beast::string_view target, const std::string& name) {
  auto q = target.find('?');
  if (q == beast::string_view::npos) return std::nullopt;
  auto query = target.substr(q + 1);
  size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    if (amp == beast::string_view::npos) amp = query.size();
    auto pair = query.substr(start, amp - start);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return std::string(eq == beast::string_view::npos ? beast::string_view() : pair.substr(eq + 1));
    start = amp + 1;
  }
  return std::nullopt;
}

}  // namespace im::net
