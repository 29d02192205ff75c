// The admin API (PROTOCOL.md section 8). Off (404 everywhere) without an admin token; answers
// only clients whose address matches --admin-bind (403 otherwise), then wants
// `Authorization: Bearer <admin token>` (401 without, 403 with a wrong one). What it shows comes
// from the actors themselves, asked through Runtime's bridging actor: no handler ever blocks an
// I/O thread; each answers from the bridge's callback.

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "net/http_api.hpp"
#include "protocol/codec.hpp"
#include "protocol/ids.hpp"

namespace im::net {

namespace {

using json = nlohmann::json;

// How long the bridge waits for any one actor. An actor that does not answer is left out.
constexpr std::chrono::milliseconds kAskTimeout{2000};

// Same length and same bytes, in time that depends only on the lengths.
bool equal_constant_time(beast::string_view a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

// --admin-bind: one client address, or 0.0.0.0 / :: for any. IPv4-mapped IPv6 peers
// (::ffff:127.0.0.1) match their IPv4 form.
bool address_allowed(const std::string& admin_bind, std::string peer) {
  if (admin_bind == "0.0.0.0" || admin_bind == "::") return true;
  if (peer.rfind("::ffff:", 0) == 0) peer = peer.substr(7);
  return peer == admin_bind;
}

// Answers and returns false unless the request may see the admin API.
bool authorize(RouteContext& ctx) {
  const auto& opts = ctx.state->options;
  if (!address_allowed(opts.admin_bind, ctx.peer)) {
    spdlog::info("admin request from {} refused: --admin-bind is {}", ctx.peer, opts.admin_bind);
    ctx.reply(error_response(ctx.req, Error::forbidden, "the admin API does not answer this address"));
    return false;
  }
  auto header = ctx.req[http::field::authorization];
  constexpr beast::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) {
    ctx.reply(error_response(ctx.req, Error::unauthorized, "admin token required"));
    return false;
  }
  if (!equal_constant_time(header.substr(kBearer.size()), opts.admin_token)) {
    spdlog::warn("admin request from {} with a wrong token", ctx.peer);
    ctx.reply(error_response(ctx.req, Error::forbidden, "wrong admin token"));
    return false;
  }
  return true;
}

std::vector<json> parse_all(const std::vector<std::string>& texts) {
  std::vector<json> out;
  out.reserve(texts.size());
  for (const auto& t : texts) {
    auto j = json::parse(t, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

// The request body as an object; an empty body is {}. Answers 400 and returns nullopt otherwise.
std::optional<json> body_object(RouteContext& ctx) {
  if (ctx.req.body().empty()) return json::object();
  auto body = parse_json_object(ctx.req.body(), static_cast<size_t>(ctx.state->options.max_nesting));
  if (body.is_discarded()) {
    ctx.reply(error_response(ctx.req, Error::bad_request, kBodyMustBeObject));
    return std::nullopt;
  }
  return body;
}

// A path segment naming an existing user; answers 404 and returns nullopt otherwise.
std::optional<UserId> existing_user(RouteContext& ctx, const std::string& text) {
  auto id = parse_decimal_u64(text);
  if (!id || !ctx.state->accounts.exists(*id)) {
    ctx.reply(error_response(ctx.req, Error::not_found, "no such user"));
    return std::nullopt;
  }
  return id;
}

void get_status(RouteContext& ctx) {
  auto& state = *ctx.state;
  auto& c = state.runtime.counters();
  auto now = std::chrono::steady_clock::now();
  double rate = state.message_rate.per_second(c.messages_accepted.load(), now);
  json out{{"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(now - state.started).count()},
           {"connections", state.runtime.connection_count()},
           {"users_online", state.runtime.users_online()},
           {"actors",
            {{"connection", c.actors_connection.load()},
             {"user", c.actors_user.load()},
             {"group", c.actors_group.load()}}},
           {"messages_per_s", std::round(rate * 10.0) / 10.0},
           {"messages_total", c.messages_accepted.load()},
           {"store_bytes", state.records.approximate_bytes()}};
  ctx.reply(json_response(ctx.req, http::status::ok, out));
}

// Every connection's own snapshot, with `unacked` from its user actor's ACK window.
void get_connections(RouteContext& ctx) {
  auto state = ctx.state;
  auto reply = ctx.reply;
  auto req = ctx.req;
  state->runtime.inspect_connections(kAskTimeout, [state, reply, req](std::vector<std::string> texts) {
    auto connections = parse_all(texts);
    state->runtime.inspect_live_users(kAskTimeout, [reply, req, connections = std::move(connections)](
                                                       std::vector<std::string> user_texts) mutable {
      std::map<std::pair<uint64_t, std::string>, uint64_t> unacked;
      for (auto& u : parse_all(user_texts))
        for (auto& d : u["devices"])
          unacked[{u["user"].get<uint64_t>(), d["device"].get<std::string>()}] = d["unacked"].get<uint64_t>();
      for (auto& c : connections) {
        uint64_t n = 0;
        if (c["user"].is_number() && c["device"].is_string()) {
          auto it = unacked.find({c["user"].get<uint64_t>(), c["device"].get<std::string>()});
          if (it != unacked.end()) n = it->second;
        }
        c["unacked"] = n;
      }
      // Authenticated first, by user and device; then the rest by age.
      std::sort(connections.begin(), connections.end(), [](const json& a, const json& b) {
        auto key = [](const json& c) {
          return std::make_tuple(c["user"].is_null(), c["user"].is_null() ? 0 : c["user"].get<uint64_t>(),
                                 c["device"].is_null() ? std::string() : c["device"].get<std::string>(),
                                 c["since"].get<int64_t>());
        };
        return key(a) < key(b);
      });
      reply(json_response(req, http::status::ok, json{{"connections", std::move(connections)}}));
    });
  });
}

void get_users(RouteContext& ctx) {
  auto reply = ctx.reply;
  auto req = ctx.req;
  ctx.state->runtime.inspect_live_users(kAskTimeout, [reply, req](std::vector<std::string> texts) {
    json users = json::array();
    auto snapshots = parse_all(texts);
    std::sort(snapshots.begin(), snapshots.end(),
              [](const json& a, const json& b) { return a["user"].get<uint64_t>() < b["user"].get<uint64_t>(); });
    for (auto& u : snapshots) {
      if (!u["online"].get<bool>()) continue;
      json names = json::array();
      uint64_t unacked = 0;
      for (auto& d : u["devices"]) {
        names.push_back(d["device"]);
        unacked += d["unacked"].get<uint64_t>();
      }
      users.push_back({{"user", u["user"]},
                       {"devices", names.size()},
                       {"device_names", std::move(names)},
                       {"useq", u["useq"]},
                       {"unacked", unacked},
                       {"mailbox", u["mailbox"]}});
    }
    reply(json_response(req, http::status::ok, json{{"users", std::move(users)}}));
  });
}

void get_user(RouteContext& ctx, const std::string& id_text) {
  auto id = existing_user(ctx, id_text);
  if (!id) return;
  auto state = ctx.state;
  auto reply = ctx.reply;
  auto req = ctx.req;
  auto user = *id;
  state->runtime.inspect_user(user, kAskTimeout, [state, reply, req, user](std::vector<std::string> texts) {
    auto snapshots = parse_all(texts);
    if (!snapshots.empty()) return reply(json_response(req, http::status::ok, snapshots.front()));
    // No live actor: everything it would know is on disk.
    json out{{"user", user},
             {"online", false},
             {"useq", state->records.inbox_head(user)},
             {"devices", json::array()},
             {"dedup_entries", 0},
             {"in_flight", 0},
             {"cached_events", 0},
             {"mailbox", 0},
             {"live", false}};
    reply(json_response(req, http::status::ok, out));
  });
}

// The group actor's own snapshot when it is live; otherwise the group's state on disk.
// {group, name, owner, members, seq, read_cursors: {user: seq}}.
json group_from_store(SharedState& state, const GroupRecord& record) {
  auto conv = Conv::group(record.id);
  json cursors = json::object();
  for (auto member : record.members) cursors[std::to_string(member)] = state.records.read_cursor(member, conv);
  return json{{"group", record.id},
              {"name", record.name},
              {"owner", record.owner},
              {"members", record.members},
              {"seq", state.records.conversation_seq(conv)},
              {"read_cursors", std::move(cursors)}};
}

void get_group(RouteContext& ctx, const std::string& id_text) {
  auto gid = parse_decimal_u64(id_text);
  auto record = gid ? ctx.state->records.group(*gid) : std::nullopt;
  if (!record) return ctx.reply(error_response(ctx.req, Error::not_found, "no such group"));
  auto state = ctx.state;
  auto reply = ctx.reply;
  auto req = ctx.req;
  auto group = *gid;
  state->runtime.inspect_group(group, kAskTimeout, [state, reply, req, record = *record](std::vector<std::string> texts) {
    auto snapshots = parse_all(texts);
    if (!snapshots.empty()) return reply(json_response(req, http::status::ok, snapshots.front()));
    reply(json_response(req, http::status::ok, group_from_store(*state, record)));
  });
}

void post_kick(RouteContext& ctx, const std::string& id_text) {
  auto id = existing_user(ctx, id_text);
  if (!id) return;
  auto body = body_object(ctx);
  if (!body) return;
  std::string device;
  if (auto it = body->find("device"); it != body->end()) {
    if (!it->is_string() || !valid_device(it->get<std::string>()))
      return ctx.reply(error_response(ctx.req, Error::invalid, "device must be a string of 1 to 64 bytes"));
    device = it->get<std::string>();
  }
  spdlog::info("admin kick of user {} device '{}' from {}", *id, device, ctx.peer);
  auto reply = ctx.reply;
  auto req = ctx.req;
  ctx.state->runtime.kick_user(*id, device, kAskTimeout, [reply, req](uint64_t kicked) {
    reply(json_response(req, http::status::ok, json{{"kicked", kicked}}));
  });
}

// {user: U} | {group: G} | {all: true}, plus body: {...} -> a `notice` inbox event to each user.
void post_notice(RouteContext& ctx) {
  auto request = body_object(ctx);
  if (!request) return;
  auto& state = *ctx.state;
  auto body = request->find("body");
  if (body == request->end() || !body->is_object())
    return ctx.reply(error_response(ctx.req, Error::invalid, "body must be a JSON object"));
  auto body_text = body->dump();
  if (body_text.size() > static_cast<size_t>(state.options.max_body_bytes))
    return ctx.reply(error_response(ctx.req, Error::too_large, "body is over max_body_bytes"));
  std::vector<UserId> users;
  auto user = request->find("user"), group = request->find("group"), all = request->find("all");
  int targets = (user != request->end()) + (group != request->end()) + (all != request->end());
  if (targets != 1)
    return ctx.reply(error_response(ctx.req, Error::invalid, "name exactly one of user, group or all"));
  if (user != request->end()) {
    if (!user->is_number_unsigned() || !state.accounts.exists(user->get<uint64_t>()))
      return ctx.reply(error_response(ctx.req, Error::no_such_user, "no such user"));
    users.push_back(user->get<uint64_t>());
  } else if (group != request->end()) {
    auto record = group->is_number_unsigned() ? state.records.group(group->get<uint64_t>()) : std::nullopt;
    if (!record) return ctx.reply(error_response(ctx.req, Error::no_such_group, "no such group"));
    users = record->members;
  } else {
    if (!all->is_boolean() || !all->get<bool>())
      return ctx.reply(error_response(ctx.req, Error::invalid, "all must be true"));
    users = state.runtime.online_users();
  }
  if (users.empty()) return ctx.reply(json_response(ctx.req, http::status::ok, json{{"delivered", 0}}));
  std::string members = "\"body\":" + body_text + ",\"ts\":" + std::to_string(now_ms());
  std::vector<InboxAppend> appends;
  appends.reserve(users.size());
  for (auto u : users) appends.push_back(InboxAppend{u, "notice", members});
  spdlog::info("admin notice to {} users from {}", users.size(), ctx.peer);
  auto reply = ctx.reply;
  auto req = ctx.req;
  auto count = users.size();
  state.runtime.append_events(std::move(appends), [reply, req, count](bool ok, const std::vector<uint64_t>&) {
    if (!ok) return reply(error_response(req, Error::unavailable, "could not store the notice"));
    reply(json_response(req, http::status::ok, json{{"delivered", count}}));
  });
}

}  // namespace

bool route_admin(RouteContext& ctx) {
  const auto& p = ctx.path;
  if (p.empty() || p[0] != "admin") return false;
  // Without a token the admin API does not exist.
  if (ctx.state->options.admin_token.empty()) {
    ctx.reply(error_response(ctx.req, Error::not_found, "no such route"));
    return true;
  }
  if (!authorize(ctx)) return true;
  auto method = ctx.req.method();
  bool get = method == http::verb::get, post = method == http::verb::post;
  if (p.size() == 2 && p[1] == "status" && get) return get_status(ctx), true;
  if (p.size() == 2 && p[1] == "connections" && get) return get_connections(ctx), true;
  if (p.size() == 2 && p[1] == "users" && get) return get_users(ctx), true;
  if (p.size() == 3 && p[1] == "users" && get) return get_user(ctx, p[2]), true;
  if (p.size() == 4 && p[1] == "users" && p[3] == "kick" && post) return post_kick(ctx, p[2]), true;
  if (p.size() == 3 && p[1] == "groups" && get) return get_group(ctx, p[2]), true;
  if (p.size() == 2 && p[1] == "notice" && post) return post_notice(ctx), true;
  ctx.reply(error_response(ctx.req, Error::not_found, "no such admin route"));
  return true;
}

}  // namespace im::net
