// Accounts over HTTP (PROTOCOL.md section 3): register, login, logout, me, users, healthz.

#include "net/http_api.hpp"
#include "protocol/codec.hpp"

namespace im::net {

namespace {

using json = nlohmann::json;

// Reads {username, password} from the body; answers 400 itself and returns false when it can't.
bool read_credentials(RouteContext& ctx, std::string& username, std::string& password) {
  auto body = parse_json_object(ctx.req.body(), static_cast<size_t>(ctx.state->options.max_nesting));
  if (body.is_discarded()) {
    ctx.reply(error_response(ctx.req, Error::bad_request, kBodyMustBeObject));
    return false;
  }
  auto u = body.find("username"), p = body.find("password");
  if (u == body.end() || p == body.end() || !u->is_string() || !p->is_string()) {
    ctx.reply(error_response(ctx.req, Error::invalid, "username and password must be strings"));
    return false;
  }
  username = u->get<std::string>();
  password = p->get<std::string>();
  return true;
}

void post_register(RouteContext& ctx) {
  std::string username, password;
  if (!read_credentials(ctx, username, password)) return;
  if (!valid_username(username) || !valid_password(password)) {
    ctx.reply(error_response(ctx.req, Error::invalid,
                             "username: 3-32 of [A-Za-z0-9_.-]; password: 8-128 bytes"));
    return;
  }
  // Each registration costs an Argon2id hash: at most --register-per-min-per-ip per client address.
  if (!ctx.state->registrations_by_address.try_take(ctx.peer, ctx.state->options.register_per_min_per_ip)) {
    ctx.state->runtime.counters().requests_rate_limited++;
    spdlog::info("registration of '{}' from {} refused: too many registrations", username, ctx.peer);
    return ctx.reply(error_response(ctx.req, Error::rate_limited, "too many registrations; try again later"));
  }
  if (ctx.state->registrations_by_address.take_overflowed()) spdlog::warn("registration rate table full: started over");
  // Argon2id takes a while by design: off the I/O thread.
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, username, password] {
    auto result = state->accounts.register_user(username, password);
    if (result.error) {
      reply(error_response(req, *result.error,
                           *result.error == Error::username_taken ? "username is taken" : "cannot register"));
      return;
    }
    spdlog::info("registered user {} ({})", result.user, username);
    reply(json_response(req, http::status::created, json{{"user", result.user}}));
  });
}

void post_login(RouteContext& ctx) {
  std::string username, password;
  if (!read_credentials(ctx, username, password)) return;
  // Brute force: too many failures for this username or from this address in the last minute get
  // 429 before any password is checked (net/limits.hpp). The attempt counts from here, before its
  // hash: guesses sent in parallel are limited like guesses sent one by one.
  auto state = ctx.state;
  auto user_limit = state->options.login_attempts_per_min;
  auto address_limit = state->options.login_attempts_per_min_per_ip;
  auto by_user = state->login_failures_by_user.begin(username, user_limit);
  auto by_address = FailureWindow::Begin::refused;
  if (by_user != FailureWindow::Begin::refused) {
    by_address = state->login_failures_by_address.begin(ctx.peer, address_limit);
    if (by_address == FailureWindow::Begin::refused) state->login_failures_by_user.end(username, user_limit, false);
  }
  if (by_user == FailureWindow::Begin::refused || by_address == FailureWindow::Begin::refused) {
    state->runtime.counters().login_rate_limited++;
    spdlog::info("login of '{}' from {} refused: too many failed attempts", username, ctx.peer);
    return ctx.reply(error_response(ctx.req, Error::rate_limited, "too many failed logins; try again later"));
  }
  if (by_user == FailureWindow::Begin::table_reset || by_address == FailureWindow::Begin::table_reset)
    spdlog::warn("login failure table full: started over");
  bool queued = post_blocking(ctx, [state, req = ctx.req, reply = ctx.reply, username, password, peer = ctx.peer] {
    auto result = state->accounts.login(username, password);
    bool failed = result.error == Error::bad_credentials;
    state->login_failures_by_user.end(username, state->options.login_attempts_per_min, failed);
    state->login_failures_by_address.end(peer, state->options.login_attempts_per_min_per_ip, failed);
    if (result.error) {
      reply(error_response(req, *result.error, failed ? "wrong username or password" : "cannot log in"));
      return;
    }
    reply(json_response(req, http::status::ok,
                        json{{"token", result.token}, {"user", result.user}, {"expires_in", result.expires_in_s}}));
  });
  if (!queued) {  // answered 503: the attempt was not made
    state->login_failures_by_user.end(username, user_limit, false);
    state->login_failures_by_address.end(ctx.peer, address_limit, false);
  }
}

void post_logout(RouteContext& ctx) {
  std::string token;
  auto who = bearer_user(*ctx.state, ctx.req, &token);
  if (!who) return ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  // The token is deleted by a store write; the answer (and the kick of the connections that used
  // the token) waits for it to be durable, on the commit thread, never on this I/O thread.
  ctx.state->accounts.revoke(*who, [state = ctx.state, req = ctx.req, reply = ctx.reply, who = *who](bool ok) {
    if (!ok) return reply(error_response(req, Error::internal, "could not revoke the token"));
    state->runtime.token_revoked(who.user, who.token_hash);
    reply(empty_response(req, http::status::no_content));
  });
}

void get_me(RouteContext& ctx) {
  auto who = bearer_user(*ctx.state, ctx.req);
  if (!who) return ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  auto name = ctx.state->accounts.username_of(who->user);
  ctx.reply(json_response(ctx.req, http::status::ok, json{{"user", who->user}, {"username", name.value_or("")}}));
}

void get_user(RouteContext& ctx, const std::string& id_text) {
  if (!bearer_user(*ctx.state, ctx.req))
    return ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  auto id = parse_decimal_u64(id_text);
  auto name = id ? ctx.state->accounts.username_of(*id) : std::nullopt;
  if (!name) return ctx.reply(error_response(ctx.req, Error::not_found, "no such user"));
  ctx.reply(json_response(ctx.req, http::status::ok,
                          json{{"user", *id}, {"username", *name}, {"online", ctx.state->runtime.online(*id)}}));
}

// GET /api/users?username=NAME: the web client starts a chat by username (exact match only, so it
// cannot be used to list users).
void get_user_by_name(RouteContext& ctx) {
  if (!bearer_user(*ctx.state, ctx.req))
    return ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  auto name = query_param(ctx.req.target(), "username");
  if (!name || !valid_username(*name))
    return ctx.reply(error_response(ctx.req, Error::invalid, "username query parameter required"));
  auto found = ctx.state->records.user_by_name(*name);
  if (!found) return ctx.reply(error_response(ctx.req, Error::not_found, "no such user"));
  auto user = *found;
  ctx.reply(json_response(ctx.req, http::status::ok,
                          json{{"user", user}, {"username", *name}, {"online", ctx.state->runtime.online(user)}}));
}

}  // namespace

bool route_accounts(RouteContext& ctx) {
  const auto& p = ctx.path;
  auto method = ctx.req.method();
  if (p.size() == 1 && p[0] == "healthz" && method == http::verb::get) {
    // A store that cannot write (LevelDB after a refused write, PostgreSQL while unreachable): a
    // load balancer should stop sending clients here (store.hpp, healthy).
    if (!ctx.state->records.healthy())
      ctx.reply(json_response(ctx.req, http::status::service_unavailable, json{{"status", "store_failed"}}));
    else
      ctx.reply(json_response(ctx.req, http::status::ok, json{{"status", "ok"}}));
    return true;
  }
  if (p.size() < 2 || p[0] != "api") return false;
  if (p.size() == 2 && p[1] == "register" && method == http::verb::post) return post_register(ctx), true;
  if (p.size() == 2 && p[1] == "login" && method == http::verb::post) return post_login(ctx), true;
  if (p.size() == 2 && p[1] == "logout" && method == http::verb::post) return post_logout(ctx), true;
  if (p.size() == 2 && p[1] == "me" && method == http::verb::get) return get_me(ctx), true;
  if (p.size() == 3 && p[1] == "users" && method == http::verb::get) return get_user(ctx, p[2]), true;
  if (p.size() == 2 && p[1] == "users" && method == http::verb::get) return get_user_by_name(ctx), true;
  return false;
}

}  // namespace im::net
