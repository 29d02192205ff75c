// Friends and blocks over HTTP (PROTOCOL.md section 3).
//
// A friendship change and the `friend` inbox events it causes are ONE atomic write (the edges
// ride in append_events' `extra`). Both sides get the event: the peer, and the acting user too,
// so that the actor's other devices see the change without polling. Every `friend` event is
// {useq, user, state, by}: `user` is the other party from the inbox owner's point of view and
// `by` the user whose request caused it (so a client tells "I asked" from "they asked").

#include <future>

#include "net/http_api.hpp"
#include "store/records.hpp"

namespace im::net {

namespace {

using json = nlohmann::json;

// The {user} path segment of a route: answers 404 (unknown user) or 400 (the caller itself) and
// returns nullopt when it is not a user the caller may name.
std::optional<UserId> target_user(RouteContext& ctx, UserId caller, const std::string& text) {
  auto id = parse_decimal_u64(text);
  if (!id || !ctx.state->accounts.exists(*id)) {
    ctx.reply(error_response(ctx.req, Error::not_found, "no such user"));
    return std::nullopt;
  }
  if (*id == caller) {
    ctx.reply(error_response(ctx.req, Error::invalid, "that is you"));
    return std::nullopt;
  }
  return id;
}

std::optional<TokenInfo> require_user(RouteContext& ctx) {
  auto who = bearer_user(*ctx.state, ctx.req);
  if (!who) ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  return who;
}

std::string friend_event_members(UserId other, const char* state, UserId by) {
  return "\"user\":" + std::to_string(other) + ",\"state\":\"" + state + "\",\"by\":" + std::to_string(by);
}

void get_friends(RouteContext& ctx) {
  auto who = require_user(ctx);
  if (!who) return;
  // Prefix scans: on the blocking pool, not on the I/O thread.
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, user = who->user] {
    auto lists = state->records.friend_lists(user);
    reply(json_response(req, http::status::ok,
                        json{{"friends", lists.friends}, {"incoming", lists.incoming}, {"outgoing", lists.outgoing}}));
  });
}

// PUT (request = true) or DELETE of /api/friends/{peer}.
void change_friendship(RouteContext& ctx, const std::string& peer_text, bool request) {
  auto who = require_user(ctx);
  if (!who) return;
  auto peer = target_user(ctx, who->user, peer_text);
  if (!peer) return;
  // Each request is an event in the peer's inbox (and a withdrawal another): at most
  // --friend-requests-per-min per user.
  if (request && !ctx.state->friend_requests_by_user.try_take(std::to_string(who->user),
                                                              ctx.state->options.friend_requests_per_min)) {
    ctx.state->runtime.counters().requests_rate_limited++;
    spdlog::info("user {}: too many friend requests, refused", who->user);
    return ctx.reply(error_response(ctx.req, Error::rate_limited, "too many friend requests; try again later"));
  }
  if (request && ctx.state->records.is_blocked(*peer, who->user))
    return ctx.reply(error_response(ctx.req, Error::blocked, "this user blocked you"));
  // Read, decide and write under the friendship lock, until the write is durable (with --fsync
  // that waits for the group commit): on the blocking pool, never on the I/O thread.
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, me = who->user,
                                   peer = *peer, request] {
    auto answer = [&](const FriendChange& change) {
      return request ? json_response(req, http::status::ok, json{{"state", change.answer}})
                     : empty_response(req, http::status::no_content);
    };
    std::unique_lock<std::mutex> lock(friend_change_mutex());
    auto current = state->records.friend_state(me, peer);
    auto change = request ? plan_friend_request(current) : plan_friend_removal(current);
    if (!change.changes) {
      lock.unlock();
      return reply(answer(change));
    }
    std::promise<bool> written;
    auto durable = written.get_future();
    std::vector<InboxAppend> events{
        {peer, "friend", friend_event_members(me, change.event, me)},
        {me, "friend", friend_event_members(peer, change.event, me)},
    };
    state->runtime.append_events(
        std::move(events), [&written](bool ok, const std::vector<uint64_t>&) { written.set_value(ok); },
        Records::friend_edges(me, peer, change));
    bool ok = durable.get();
    lock.unlock();
    if (!ok) {
      spdlog::error("friend change {} -> {} failed to write", me, peer);
      return reply(error_response(req, Error::unavailable, "could not store the change"));
    }
    spdlog::debug("friend {} -> {}: {}", me, peer, change.event);
    reply(answer(change));
  });
}

void get_blocks(RouteContext& ctx) {
  auto who = require_user(ctx);
  if (!who) return;
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, user = who->user] {
    reply(json_response(req, http::status::ok, json{{"blocks", state->records.blocks_of(user)}}));
  });
}

// PUT (block = true) or DELETE of /api/blocks/{peer}. Idempotent; no events: the blocked user
// is not told.
void change_block(RouteContext& ctx, const std::string& peer_text, bool block) {
  auto who = require_user(ctx);
  if (!who) return;
  auto peer = target_user(ctx, who->user, peer_text);
  if (!peer) return;
  ctx.state->records.set_block(who->user, *peer, block, [req = ctx.req, reply = ctx.reply](bool ok) {
    if (!ok) return reply(error_response(req, Error::unavailable, "could not store the block"));
    reply(empty_response(req, http::status::no_content));
  });
}

}  // namespace

bool route_social(RouteContext& ctx) {
  const auto& p = ctx.path;
  if (p.size() < 2 || p.size() > 3 || p[0] != "api" || (p[1] != "friends" && p[1] != "blocks")) return false;
  auto method = ctx.req.method();
  bool friends = p[1] == "friends";
  if (p.size() == 2 && method == http::verb::get) return (friends ? get_friends(ctx) : get_blocks(ctx)), true;
  if (p.size() == 3 && (method == http::verb::put || method == http::verb::delete_)) {
    bool add = method == http::verb::put;
    if (friends) change_friendship(ctx, p[2], add);
    else change_block(ctx, p[2], add);
    return true;
  }
  return false;
}

}  // namespace im::net
