// The conversation list and history over HTTP (PROTOCOL.md section 3). Both are computed from the
// store (messages, read cursors, group records) on the blocking pool, since they scan. Unread
// counts and read counts are derived from the stored messages and cursors each time, so they
// cannot drift from them.
//
// Choices the protocol leaves open:
// - A conversation without messages (a new group) is listed with "last": null; its activity time
//   is the group's creation.
// - unread counts recalled messages too: they are still messages after the cursor.
// - The {conv} path segment may be percent-encoded ("g%3A7").
// - History of a group: only for current members (403 not_member otherwise, also for a group
//   that does not exist); a one-to-one conversation: only its two users.
// - before=0 is an empty page; before absent means from the newest.

#include <algorithm>
#include <cstdlib>

#include "net/http_api.hpp"
#include "store/records.hpp"

namespace im::net {

namespace {

using json = nlohmann::json;

constexpr uint64_t kDefaultLimit = 50;
constexpr uint64_t kMaxLimit = 200;

std::string percent_decode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      auto hex = in.substr(i + 1, 2);
      char* end = nullptr;
      auto v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

// The message object, with read_count for group messages.
json message_object(const Conv& conv, uint64_t seq, const StoredMessage& m, const ReadCounts* reads) {
  auto out = message_api_json(conv, seq, m);
  if (reads) out["read_count"] = reads->count(seq, m.from);
  return out;
}

struct Entry {
  std::string conv;
  int64_t activity = 0;
  json item;
};

Entry list_entry(const Records& records, UserId user, const Conv& conv, uint64_t head, int64_t fallback_activity,
                 const ReadCounts* reads) {
  Entry e;
  e.conv = conv.str();
  e.activity = fallback_activity;
  json last = nullptr;
  if (head > 0) {
    if (auto m = records.message(conv, head)) {
      e.activity = m->ts;
      last = message_object(conv, head, *m, reads);
    }
  }
  auto read_seq = records.read_cursor(user, conv);
  e.item = json{{"conv", e.conv},
                {"last", last},
                {"unread", records.count_unread(conv, user, read_seq, head)},
                {"read_seq", read_seq}};
  return e;
}

json conversation_list(const Records& records, UserId user) {
  std::vector<Entry> entries;
  for (const auto& conv : records.direct_conversations(user))
    entries.push_back(list_entry(records, user, conv, records.conversation_head(conv), 0, nullptr));
  for (auto gid : records.groups_of(user)) {
    auto record = records.group(gid);
    if (!record) continue;
    auto conv = Conv::group(gid);
    auto reads = records.read_counts(gid, record->members);
    entries.push_back(list_entry(records, user, conv, records.conversation_head(conv), record->created_ms, &reads));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) {
    return x.activity != y.activity ? x.activity > y.activity : x.conv < y.conv;
  });
  json list = json::array();
  for (auto& e : entries) list.push_back(std::move(e.item));
  return json{{"conversations", list}};
}

void get_conversations(RouteContext& ctx, UserId user) {
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, user] {
    reply(json_response(req, http::status::ok, conversation_list(state->records, user)));
  });
}

void get_history(RouteContext& ctx, UserId user, const std::string& conv_text) {
  auto conv = parse_conv(percent_decode(conv_text));
  if (!conv) return ctx.reply(error_response(ctx.req, Error::not_found, "no such conversation"));
  if (!conv->is_group() && !conv->has_member(user))
    return ctx.reply(error_response(ctx.req, Error::not_member, "not your conversation"));
  uint64_t before = 0;  // no bound
  if (auto text = query_param(ctx.req.target(), "before")) {
    auto v = parse_decimal_u64(*text);
    if (!v) return ctx.reply(error_response(ctx.req, Error::invalid, "before must be a sequence number"));
    if (*v == 0) return ctx.reply(json_response(ctx.req, http::status::ok, json{{"messages", json::array()}}));
    before = *v;
  }
  uint64_t limit = kDefaultLimit;
  if (auto text = query_param(ctx.req.target(), "limit")) {
    auto v = parse_decimal_u64(*text);
    if (!v || *v < 1 || *v > kMaxLimit)
      return ctx.reply(error_response(ctx.req, Error::invalid, "limit must be 1 to 200"));
    limit = *v;
  }
  // A group's membership is a store read like the page itself: both on the blocking pool.
  post_blocking(ctx, [state = ctx.state, req = ctx.req, reply = ctx.reply, user, conv = *conv, before, limit] {
    const auto& records = state->records;
    std::optional<ReadCounts> reads;
    if (conv.is_group()) {
      auto record = records.group(conv.a);
      if (!record || !record->has_member(user))
        return reply(error_response(req, Error::not_member, "not your conversation"));
      reads = records.read_counts(conv.a, record->members);
    }
    json messages = json::array();
    for (const auto& [seq, m] : records.messages_before(conv, before, limit))
      messages.push_back(message_object(conv, seq, m, reads ? &*reads : nullptr));
    reply(json_response(req, http::status::ok, json{{"messages", messages}}));
  });
}

}  // namespace

bool route_conversations(RouteContext& ctx) {
  const auto& p = ctx.path;
  if (p.size() < 2 || p[0] != "api" || p[1] != "conversations" || ctx.req.method() != http::verb::get) return false;
  bool is_list = p.size() == 2;
  bool is_history = p.size() == 4 && p[3] == "messages";
  if (!is_list && !is_history) return false;
  auto who = bearer_user(*ctx.state, ctx.req);
  if (!who) {
    ctx.reply(error_response(ctx.req, Error::unauthorized, "missing or invalid token"));
    return true;
  }
  if (is_list) get_conversations(ctx, who->user);
  else get_history(ctx, who->user, p[2]);
  return true;
}

}  // namespace im::net
