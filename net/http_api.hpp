#pragma once
// The HTTP API (PROTOCOL.md section 3) as a function from request to response. Handlers that
// block (password hashing) run on the shared blocking pool; every handler answers through
// `reply` exactly once, from any thread.

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "net/http_request.hpp"
#include "net/net_common.hpp"
#include "net/shared_state.hpp"
#include "protocol/errors.hpp"

namespace im::net {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using HttpReply = std::function<void(Response)>;

// The 400 for a JSON body that is not an object, not UTF-8 or nested deeper than max_nesting.
inline constexpr const char* kBodyMustBeObject = "body must be a JSON object in UTF-8, nested at most max_nesting deep";

Response json_response(const Request& req, http::status status, const nlohmann::json& body);
Response error_response(const Request& req, http::status status, const std::string& code,
                        const std::string& message);
Response error_response(const Request& req, Error error, const std::string& message);
Response empty_response(const Request& req, http::status status);

void handle_http(std::shared_ptr<SharedState> state, Request req, std::string peer, HttpReply reply);

// Thrown by a route when the store cannot answer a read it needs (the database unreachable);
// handle_http answers 503 `unavailable`. Only on the thread that runs the route.
struct StoreUnavailable : std::runtime_error {
  StoreUnavailable() : std::runtime_error("the store cannot be read") {}
};

// The bearer token's user, or nullopt (the caller answers 401). Throws StoreUnavailable when the
// token's record cannot be read.
std::optional<TokenInfo> bearer_user(SharedState& state, const Request& req, std::string* token = nullptr);
// The same for a token given some other way (a query parameter).
std::optional<TokenInfo> token_user(SharedState& state, const std::string& token);

// Route groups, each in its own file.
struct RouteContext {
  std::shared_ptr<SharedState> state;
  Request& req;
  const std::vector<std::string>& path;
  const std::string& peer;
  HttpReply& reply;
};
// Runs `job` on the blocking pool (net/blocking_pool.hpp). When its queue is full (more than
// --blocking-queue-max jobs), answers 503 unavailable instead and returns false.
template <class Job>
bool post_blocking(RouteContext& ctx, Job&& job) {
  if (ctx.state->blocking.try_post(std::forward<Job>(job))) return true;
  ctx.state->runtime.counters().blocking_rejected++;
  spdlog::debug("http {}: blocking pool full, answering 503", std::string(ctx.req.target()));
  ctx.reply(error_response(ctx.req, Error::unavailable, "the server is busy; try again"));
  return false;
}

bool route_accounts(RouteContext& ctx);  // returns false when the path is not one of its routes
bool route_metrics(RouteContext& ctx);
bool route_social(RouteContext& ctx);  // friends and blocks
bool route_files(RouteContext& ctx);   // upload and download
bool route_admin(RouteContext& ctx);   // /admin/... (PROTOCOL.md section 8)
bool route_groups(RouteContext& ctx);         // /api/groups...
bool route_conversations(RouteContext& ctx);  // /api/conversations...
bool route_static(RouteContext& ctx);  // the web client; must be tried last

}  // namespace im::net
