#include "net/http_api.hpp"

namespace im::net {

using json = nlohmann::json;

Response json_response(const Request& req, http::status status, const json& body) {
  Response res{status, req.version() ? req.version() : 11};
  res.set(http::field::server, "imserver");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = body.dump();
  return res;
}

Response error_response(const Request& req, http::status status, const std::string& code,
                        const std::string& message) {
  return json_response(req, status, json{{"error", {{"code", code}, {"message", message}}}});
}

Response error_response(const Request& req, Error error, const std::string& message) {
  return error_response(req, static_cast<http::status>(http_status(error)), std::string(to_string(error)),
                        message);
}

Response empty_response(const Request& req, http::status status) {
  Response res{status, req.version() ? req.version() : 11};
  res.set(http::field::server, "imserver");
  res.keep_alive(req.keep_alive());
  return res;
}

std::optional<TokenInfo> bearer_user(SharedState& state, const Request& req, std::string* token) {
  auto header = req[http::field::authorization];
  constexpr beast::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return std::nullopt;
  std::string value(header.substr(kBearer.size()));
  if (token) *token = value;
  return token_user(state, value);
}

std::optional<TokenInfo> token_user(SharedState& state, const std::string& token) {
  bool unreadable = false;
  auto who = state.accounts.authenticate(token, &unreadable);
  if (unreadable) throw StoreUnavailable();
  return who;
}

namespace {

// Whether the route may read the store: the API, files, the admin views and /metrics (the store's
// size). /healthz and the web client's assets do not.
bool reads_store(const std::vector<std::string>& path) {
  if (path.empty()) return false;
  const auto& top = path[0];
  return top == "api" || top == "files" || top == "admin" || top == "metrics";
}

void route(const std::shared_ptr<SharedState>& state, Request& req, const std::vector<std::string>& path,
           const std::string& peer, HttpReply& reply) {
  RouteContext ctx{state, req, path, peer, reply};
  try {
    if (route_accounts(ctx) || route_metrics(ctx) || route_social(ctx) || route_files(ctx)) return;
    if (route_groups(ctx) || route_conversations(ctx)) return;
    if (route_admin(ctx)) return;
    if (route_static(ctx)) return;  // last: the web client never shadows a server route
    reply(error_response(req, http::status::not_found, "not_found", "no such route"));
  } catch (const StoreUnavailable&) {
    reply(error_response(req, Error::unavailable, "the database cannot be reached; try again"));
  } catch (const std::exception& e) {
    spdlog::error("http {} {}: {}", std::string(req.method_string()), std::string(req.target()), e.what());
    reply(error_response(req, Error::internal, "internal error"));
  }
}

}  // namespace

void handle_http(std::shared_ptr<SharedState> state, Request req, std::string peer, HttpReply reply) {
  auto path = path_segments(req.target());
  if (!state->store_reads || !reads_store(path)) return route(state, req, path, peer, reply);
  // A remote store: the request runs on a store-read thread, which may wait for the database.
  auto busy = error_response(req, Error::unavailable, "the server is busy; try again");
  auto job = [state, req = std::move(req), path = std::move(path), peer = std::move(peer), reply]() mutable {
    route(state, req, path, peer, reply);
  };
  if (state->store_reads->try_post(std::move(job))) return;
  state->runtime.counters().store_reads_rejected++;
  reply(std::move(busy));
}

}  // namespace im::net
