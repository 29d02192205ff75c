// File upload and download (PROTOCOL.md section 3).
//
// POST /api/files stores the raw body under <data-dir>/files/<id> (written to <id>.tmp, then
// renamed, so a crash never leaves a partial file under a real id) and then records
// {content_type, size} in the store (Records::file). Ids are 16 random bytes in hex: unguessable,
// so the url itself is the capability to share a file with a conversation.
//
// GET /files/<id> needs a logged-in user: `Authorization: Bearer <token>`, or `?token=<token>`
// for a browser's <img src> or link, which cannot send a header. Disk I/O runs on the blocking
// pool. Uploaded bytes are served with `X-Content-Type-Options: nosniff` and
// `Content-Security-Policy: sandbox`, so an uploaded HTML page cannot run script as the site.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "net/http_api.hpp"
#include "store/records.hpp"

namespace im::net {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kFileIdBytes = 16;
constexpr size_t kMaxContentTypeBytes = 255;

fs::path files_dir(const ServerOptions& options) { return fs::path(options.data_dir) / "files"; }

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

// Writes `bytes` to `path` completely (fsync'd when `sync`). Returns an error text or "".
std::string write_file(const fs::path& path, const std::string& bytes, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return std::strerror(errno);
  size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return why;
    }
    done += static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return why;
  }
  if (::close(fd) != 0) return std::strerror(errno);
  return "";
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
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
    auto dir = files_dir(state->options);
    std::error_code ec;
    fs::create_directories(dir, ec);
    auto id = random_hex(kFileIdBytes);
    auto final_path = dir / id;
    auto temp_path = dir / (id + ".tmp");
    auto failure = write_file(temp_path, *bytes, state->options.fsync);
    if (failure.empty()) {
      fs::rename(temp_path, final_path, ec);
      if (ec) failure = ec.message();
    }
    if (!failure.empty()) {
      spdlog::error("file upload by user {}: cannot write {}: {}", user, temp_path.string(), failure);
      fs::remove(temp_path, ec);
      return reply(error_response(req, Error::internal, "could not store the file"));
    }
    if (state->options.fsync) fsync_dir(dir);
    FileRecord record{content_type, bytes->size()};
    if (!state->records.put_file_and_wait(id, record)) {
      fs::remove(final_path, ec);
      return reply(error_response(req, Error::unavailable, "could not record the file"));
    }
    spdlog::debug("user {} uploaded file {} ({} bytes, {})", user, id, bytes->size(), content_type);
    reply(json_response(req, http::status::created, json{{"url", "/files/" + id}}));
  });
}

void get_file(RouteContext& ctx, const std::string& id) {
  auto who = bearer_user(*ctx.state, ctx.req);
  if (!who) {
    if (auto token = query_param(ctx.req.target(), "token")) who = ctx.state->accounts.authenticate(*token);
  }
  if (!who) return ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  auto record = valid_file_id(id) ? ctx.state->records.file(id) : std::nullopt;
  if (!record) return ctx.reply(error_response(ctx.req, Error::not_found, "no such file"));
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, id, record = *record] {
    auto path = files_dir(state->options) / id;
    std::ifstream in(path, std::ios::binary);
    std::string bytes;
    if (in) {
      bytes.resize(record.size);
      in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    if (!in || static_cast<uint64_t>(in.gcount()) != record.size) {
      spdlog::error("file {} is recorded but cannot be read from {}", id, path.string());
      return reply(error_response(req, Error::internal, "the file cannot be read"));
    }
    Response res{http::status::ok, req.version() ? req.version() : 11};
    res.set(http::field::server, "imserver");
    res.set(http::field::content_type, record.content_type);
    res.set(http::field::cache_control, "private, max-age=31536000, immutable");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Content-Security-Policy", "sandbox");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(bytes);
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
