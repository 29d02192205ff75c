// Groups over HTTP (PROTOCOL.md section 3). Reads come from the store; creation is one atomic
// write; membership changes go through the group's actor (actors/group_ops.hpp), which answers
// asynchronously, so no handler blocks an I/O thread.
//
// Choices the protocol leaves open:
// - POST /api/groups answers 201 with the whole group, {group, name, owner, members}; `members`
//   may be omitted (a group of the creator alone); a name is 1..max_group_name_bytes of UTF-8.
// - A member id that is not a registered user: 404 no_such_user (creation and additions alike).
// - More than max_group_members: 400 invalid.
// - POST .../members answers 200 with the group afterwards; ids already members are no change.
// - GET /api/groups/{g} of a group that does not exist: 404 not_found; of another's: 403 not_member.
// - DELETE of a user who is not a member: 404 not_found (after the forbidden check).
// - An owner who leaves hands ownership to the remaining member with the lowest id.
//
// Consent and abuse limits (issue 20): a user who blocked the caller cannot be put in a group by
// the caller, at creation or later (403 blocked, nothing written); group creations and users added
// are rate-limited per caller (429 rate_limited; see net/abuse_limits.hpp).

#include <algorithm>

#include "actors/group_ops.hpp"
#include "net/http_api.hpp"
#include "protocol/codec.hpp"

namespace im::net {

namespace {

using json = nlohmann::json;

std::optional<TokenInfo> require_user(RouteContext& ctx) {
  auto who = bearer_user(*ctx.state, ctx.req);
  if (!who) ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
  return who;
}

// The body as a JSON object, or nullopt after answering 400.
std::optional<json> body_object(RouteContext& ctx) {
  auto body = parse_json_object(ctx.req.body(), static_cast<size_t>(ctx.state->options.max_nesting));
  if (body.is_discarded()) {
    ctx.reply(error_response(ctx.req, Error::bad_request, kBodyMustBeObject));
    return std::nullopt;
  }
  return body;
}

// body[field] as a list of user ids; an absent field is an empty list. nullopt after answering 400.
std::optional<std::vector<UserId>> user_list(RouteContext& ctx, const json& body, const char* field) {
  std::vector<UserId> out;
  auto it = body.find(field);
  if (it == body.end()) return out;
  if (!it->is_array()) {
    ctx.reply(error_response(ctx.req, Error::invalid, std::string("\"") + field + "\" must be a list of user ids"));
    return std::nullopt;
  }
  for (const auto& v : *it) {
    if (!v.is_number_unsigned()) {
      ctx.reply(error_response(ctx.req, Error::invalid, std::string("\"") + field + "\" must be a list of user ids"));
      return std::nullopt;
    }
    out.push_back(v.get<UserId>());
  }
  return out;
}

// 429 for a caller over one of its rates.
void refuse_rate(RouteContext& ctx, const TokenInfo& who, const char* what) {
  ctx.state->runtime.counters().requests_rate_limited++;
  spdlog::info("user {}: too many {}, refused", who.user, what);
  ctx.reply(error_response(ctx.req, Error::rate_limited, std::string("too many ") + what + "; try again later"));
}

// Answers an outcome of group_ops with `success` status, or its error.
GroupDone answer_with(RouteContext& ctx, http::status success, bool with_body) {
  return [req = ctx.req, reply = ctx.reply, success, with_body](GroupOutcome outcome) {
    if (outcome.error) return reply(error_response(req, *outcome.error, outcome.message));
    if (!with_body || !outcome.group) return reply(empty_response(req, success));
    reply(json_response(req, success, outcome.group->to_api_json()));
  };
}

void post_group(RouteContext& ctx, const TokenInfo& who) {
  auto body = body_object(ctx);
  if (!body) return;
  auto name = body->find("name");
  auto max_name = static_cast<size_t>(ctx.state->options.max_group_name_bytes);
  if (name == body->end() || !name->is_string() || name->get<std::string>().empty() ||
      name->get<std::string>().size() > max_name)
    return ctx.reply(error_response(ctx.req, Error::invalid,
                                    "\"name\" must be a string of 1 to " + std::to_string(max_name) + " bytes"));
  auto members = user_list(ctx, *body, "members");
  if (!members) return;
  auto max_members = ctx.state->options.max_group_members;
  if (static_cast<int64_t>(members->size()) + 1 > max_members) {
    // Duplicates or the creator in the list do not count twice.
    auto unique = *members;
    unique.push_back(who.user);
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    if (static_cast<int64_t>(unique.size()) > max_members)
      return ctx.reply(error_response(ctx.req, Error::invalid,
                                      "a group has at most " + std::to_string(max_members) + " members"));
  }
  if (!ctx.state->group_creations_by_user.try_take(std::to_string(who.user), ctx.state->options.groups_per_min))
    return refuse_rate(ctx, who, "group creations");
  create_group(ctx.state->runtime.context(), who.user, name->get<std::string>(), std::move(*members),
               answer_with(ctx, http::status::created, true));
}

// A scan of the caller's groups: on the blocking pool, not on the I/O thread.
void list_groups(RouteContext& ctx, const TokenInfo& who) {
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, user = who.user] {
    const auto& records = state->records;
    json groups = json::array();
    for (auto gid : records.groups_of(user))
      if (auto record = records.group(gid)) groups.push_back(json{{"group", gid}, {"name", record->name}});
    reply(json_response(req, http::status::ok, json{{"groups", groups}}));
  });
}

void get_group(RouteContext& ctx, const TokenInfo& who, GroupId gid) {
  auto record = ctx.state->records.group(gid);
  if (!record) return ctx.reply(error_response(ctx.req, Error::not_found, "no such group"));
  if (!record->has_member(who.user))
    return ctx.reply(error_response(ctx.req, Error::not_member, "you are not a member of this group"));
  ctx.reply(json_response(ctx.req, http::status::ok, record->to_api_json()));
}

void post_members(RouteContext& ctx, const TokenInfo& who, GroupId gid) {
  auto body = body_object(ctx);
  if (!body) return;
  if (!body->contains("users"))
    return ctx.reply(error_response(ctx.req, Error::invalid, "\"users\" must be a list of user ids"));
  auto users = user_list(ctx, *body, "users");
  if (!users) return;
  // The cost is the number of users named: each addition is an event in every member's inbox.
  auto named = *users;
  std::sort(named.begin(), named.end());
  named.erase(std::unique(named.begin(), named.end()), named.end());
  if (!ctx.state->group_additions_by_user.try_take(std::to_string(who.user), ctx.state->options.group_additions_per_min,
                                                   static_cast<int64_t>(named.size())))
    return refuse_rate(ctx, who, "group member additions");
  add_group_members(ctx.state->runtime.context(), gid, who.user, std::move(*users),
                    answer_with(ctx, http::status::ok, true));
}

void delete_member(RouteContext& ctx, const TokenInfo& who, GroupId gid, const std::string& user_text) {
  auto user = parse_decimal_u64(user_text);
  if (!user) return ctx.reply(error_response(ctx.req, Error::not_found, "no such user"));
  remove_group_member(ctx.state->runtime.context(), gid, who.user, *user,
                      answer_with(ctx, http::status::no_content, false));
}

}  // namespace

bool route_groups(RouteContext& ctx) {
  const auto& p = ctx.path;
  if (p.size() < 2 || p[0] != "api" || p[1] != "groups" || p.size() > 5) return false;
  auto method = ctx.req.method();
  auto who_or_reply = [&]() { return require_user(ctx); };
  if (p.size() == 2) {
    if (method != http::verb::post && method != http::verb::get) return false;
    auto who = who_or_reply();
    if (!who) return true;
    if (method == http::verb::post) post_group(ctx, *who);
    else list_groups(ctx, *who);
    return true;
  }
  bool is_group = p.size() == 3 && method == http::verb::get;
  bool is_add = p.size() == 4 && p[3] == "members" && method == http::verb::post;
  bool is_remove = p.size() == 5 && p[3] == "members" && method == http::verb::delete_;
  if (!is_group && !is_add && !is_remove) return false;
  auto who = who_or_reply();
  if (!who) return true;
  auto gid = parse_decimal_u64(p[2]);
  if (!gid || *gid == 0) {
    ctx.reply(error_response(ctx.req, Error::not_found, "no such group"));
    return true;
  }
  if (is_group) get_group(ctx, *who, *gid);
  else if (is_add) post_members(ctx, *who, *gid);
  else delete_member(ctx, *who, *gid, p[4]);
  return true;
}

}  // namespace im::net
