// The web client (web/), compiled into the binary: GET / is index.html, GET /<file> is that file.
// Tried last by the router, and it never answers under the server's own prefixes, so it cannot
// shadow an API route; anything it does not know falls through to the router's 404.

#include <cstring>
#include <string_view>

#include "net/http_api.hpp"
#include "net/web_assets.hpp"

namespace im::net {

namespace {

// First path segments that belong to the server, never to a static file.
bool reserved_prefix(const std::string& first) {
  static constexpr const char* kReserved[] = {"api", "ws", "files", "admin", "healthz", "metrics"};
  for (auto* reserved : kReserved)
    if (first == reserved) return true;
  return false;
}

const WebAsset* find_asset(std::string_view path) {
  for (std::size_t i = 0; i < kWebAssetCount; ++i)
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  return nullptr;
}

}  // namespace

bool route_static(RouteContext& ctx) {
  if (ctx.req.method() != http::verb::get) return false;
  if (!ctx.path.empty() && reserved_prefix(ctx.path.front())) return false;
  auto target = ctx.req.target();
  std::string_view path(target.data(), target.size());
  path = path.substr(0, path.find('?'));
  if (path == "/") path = "/index.html";
  if (path.find("..") != std::string_view::npos) return false;
  const WebAsset* asset = find_asset(path);
  if (!asset) return false;

  // File names carry no content hash, so the browser revalidates every time (no-cache) and the
  // ETag turns an unchanged file into a body-less 304.
  auto version = ctx.req.version() ? ctx.req.version() : 11;
  if (ctx.req[http::field::if_none_match] == asset->etag) {
    Response res{http::status::not_modified, version};
    res.set(http::field::server, "imserver");
    res.set(http::field::etag, asset->etag);
    res.set(http::field::cache_control, "no-cache");
    res.keep_alive(ctx.req.keep_alive());
    ctx.reply(std::move(res));
    return true;
  }
  Response res{http::status::ok, version};
  res.set(http::field::server, "imserver");
  res.set(http::field::content_type, asset->content_type);
  res.set(http::field::etag, asset->etag);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.keep_alive(ctx.req.keep_alive());
  res.body().assign(reinterpret_cast<const char*>(asset->data), asset->size);
  ctx.reply(std::move(res));
  return true;
}

}  // namespace im::net
