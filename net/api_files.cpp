// File upload and download (PROTOCOL.md section 3).
//
// POST /api/files stores the raw body and its record {content_type, size} through Records (on
// disk or in PostgreSQL: store/file_bytes.hpp). Ids are 16 random bytes in hex: unguessable, so
// the url itself is the capability to share a file with a conversation.
//
// GET /files/<id> needs a logged-in user: `Authorization: Bearer <token>`, or `?token=<token>`
// for a browser's <img src> or link, which cannot send a header. Storage I/O runs on the blocking
// pool. Uploaded bytes are served with `X-Content-Type-Options: nosniff` and
// `Content-Security-Policy: sandbox`, so an uploaded HTML page cannot run script as the site.

#include "net/http_api.hpp"
#include "store/records.hpp"

namespace im::net {

namespace {

using json = nlohmann::json;

constexpr size_t kFileIdBytes = 16;
constexpr size_t kMaxContentTypeBytes = 255;

bool valid_file_id(const std::string& id) {
  if (id.size() != 2 * kFileIdBytes) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Printable ASCII only: the value is echoed back as a response header.
bool valid_content_type(const std::string& type) {
  if (type.empty() || type.size() > kMaxContentTypeBytes) return false;
  for (unsigned char c : type)
    if (c < 0x20 || c > 0x7E) return false;
  return true;
}

void post_file(RouteContext& ctx) {
  auto who = bearer_user(*ctx.state, ctx.req);
  if (!who) return ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  std::string content_type(ctx.req[http::field::content_type]);
  if (content_type.empty()) content_type = "application/octet-stream";
  if (!valid_content_type(content_type))
    return ctx.reply(error_response(ctx.req, Error::invalid, "Content-Type must be 1-255 printable ASCII bytes"));
  // The session already refused bodies over max_file_bytes with 413.
  auto bytes = std::make_shared<std::string>(std::move(ctx.req.body()));
  ctx.req.body().clear();
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, bytes, content_type,
                                   user = who->user] {
    auto id = random_hex(kFileIdBytes);
    switch (state->records.put_file_and_wait(id, FileRecord{content_type, bytes->size()}, *bytes)) {
      case Records::FileWrite::bytes_failed:
        return reply(error_response(req, Error::internal, "could not store the file"));
      case Records::FileWrite::record_failed:
        return reply(error_response(req, Error::unavailable, "could not record the file"));
      case Records::FileWrite::stored:
        break;
    }
    spdlog::debug("user {} uploaded file {} ({} bytes, {})", user, id, bytes->size(), content_type);
    reply(json_response(req, http::status::created, json{{"url", "/files/" + id}}));
  });
}

void get_file(RouteContext& ctx, const std::string& id) {
  auto who = bearer_user(*ctx.state, ctx.req);
  if (!who) {
    if (auto token = query_param(ctx.req.target(), "token")) who = token_user(*ctx.state, *token);
  }
  if (!who) return ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  if (!valid_file_id(id)) return ctx.reply(error_response(ctx.req, Error::not_found, "no such file"));
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, id] {
    auto record = state->records.file(id);
    if (!record) return reply(error_response(req, Error::not_found, "no such file"));
    auto bytes = state->records.file_bytes(id, *record);
    if (!bytes) {
      spdlog::error("file {} is recorded but its {} bytes cannot be read", id, record->size);
      return reply(error_response(req, Error::internal, "the file cannot be read"));
    }
    Response res{http::status::ok, req.version() ? req.version() : 11};
    res.set(http::field::server, "imserver");
    res.set(http::field::content_type, record->content_type);
    res.set(http::field::cache_control, "private, max-age=31536000, immutable");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Content-Security-Policy", "sandbox");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(*bytes);
    reply(std::move(res));
  });
}

}  // namespace

bool route_files(RouteContext& ctx) {
  const auto& p = ctx.path;
  auto method = ctx.req.method();
  if (p.size() == 2 && p[0] == "api" && p[1] == "files" && method == http::verb::post) return post_file(ctx), true;
  if (p.size() == 2 && p[0] == "files" && method == http::verb::get) return get_file(ctx, p[1]), true;
  return false;
}

}  // namespace im::net
