#include "store/conversations.hpp"

#include <algorithm>
#include <cstdint>

#include "store/keys.hpp"

namespace im {

using json = nlohmann::json;

namespace {
constexpr std::string_view kFromPrefix = "{\"from\":";
}

std::string stored_message_json(const StoredMessage& m) {
  std::string out;
  out.reserve(m.body_json.size() + 64);
  out.append(kFromPrefix).append(std::to_string(m.from));
  out.append(",\"body\":").append(m.body_json);
  out.append(",\"ts\":").append(std::to_string(m.ts));
  if (m.recalled) out.append(",\"recalled\":true");
  out.append("}");
  return out;
}

namespace {

// The ts of stored_message_json: a canonical decimal, '-' for the (never written) negative ones.
std::optional<int64_t> stored_ts(std::string_view text) {
  bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  auto magnitude = parse_decimal_u64(text);
  if (!magnitude || *magnitude > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  auto v = static_cast<int64_t>(*magnitude);
  return negative ? -v : v;
}

// The exact layout stored_message_json writes, without a JSON parse: read_inbox resolves one
// stored message per `msg` event it reads back. The body is the stored text itself, which was
// serialized once when the message was accepted. nullopt: not that layout (parse it as JSON).
std::optional<StoredMessage> parse_own_layout(std::string_view value) {
  constexpr std::string_view kBody = ",\"body\":", kTs = ",\"ts\":", kRecalled = ",\"recalled\":true}";
  if (value.substr(0, kFromPrefix.size()) != kFromPrefix) return std::nullopt;
  value.remove_prefix(kFromPrefix.size());
  auto body_at = value.find(kBody);
  if (body_at == std::string_view::npos) return std::nullopt;
  StoredMessage m;
  auto from = parse_decimal_u64(value.substr(0, body_at));
  if (!from) return std::nullopt;
  m.from = *from;
  value.remove_prefix(body_at + kBody.size());
  if (value.size() >= kRecalled.size() && value.substr(value.size() - kRecalled.size()) == kRecalled) {
    m.recalled = true;
    value.remove_suffix(kRecalled.size());
  } else {
    if (value.empty() || value.back() != '}') return std::nullopt;
    value.remove_suffix(1);
  }
  auto ts_at = value.rfind(kTs);  // ts follows the body: the last one is ours
  if (ts_at == std::string_view::npos) return std::nullopt;
  auto ts = stored_ts(value.substr(ts_at + kTs.size()));
  auto body = value.substr(0, ts_at);
  if (!ts || body.size() < 2 || body.front() != '{' || body.back() != '}') return std::nullopt;
  m.ts = *ts;
  m.body_json.assign(body);
  return m;
}

}  // namespace

std::optional<StoredMessage> parse_stored_message(std::string_view value) {
  if (auto m = parse_own_layout(value)) return m;
  auto j = json::parse(value.begin(), value.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto from = j.find("from");
  auto ts = j.find("ts");
  if (from == j.end() || !from->is_number_unsigned() || ts == j.end() || !ts->is_number()) return std::nullopt;
  StoredMessage m;
  m.from = from->get<UserId>();
  m.ts = ts->get<int64_t>();
  auto body = j.find("body");
  m.body_json = body != j.end() && body->is_object() ? body->dump() : "{}";
  m.recalled = j.value("recalled", false);
  return m;
}

UserId stored_message_sender(std::string_view value) {
  if (value.substr(0, kFromPrefix.size()) == kFromPrefix) {
    UserId from = 0;
    bool digits = false;
    for (auto c : value.substr(kFromPrefix.size())) {
      if (c < '0' || c > '9') break;
      from = from * 10 + static_cast<UserId>(c - '0');
      digits = true;
    }
    if (digits) return from;
  }
  auto m = parse_stored_message(value);
  return m ? m->from : 0;
}

std::optional<StoredMessage> load_message(const Store& store, const Conv& conv, uint64_t seq) {
  std::string value;
  if (!store.get(keys::message(conv, seq), &value)) return std::nullopt;
  return parse_stored_message(value);
}

std::vector<std::pair<uint64_t, StoredMessage>> messages_before(const Store& store, const Conv& conv,
                                                                uint64_t before, size_t limit) {
  std::vector<std::pair<uint64_t, StoredMessage>> out;
  if (limit == 0) return out;
  auto prefix = keys::message_prefix(conv);
  auto to = before == 0 ? keys::prefix_end(prefix) : keys::message(conv, before);
  store.scan(prefix, to, true, [&](std::string_view key, std::string_view value) {
    if (key.size() < prefix.size() + 8) return true;
    if (auto m = parse_stored_message(value)) out.emplace_back(keys::get_u64(key.substr(prefix.size())), std::move(*m));
    return out.size() < limit;
  });
  return out;
}

std::vector<std::pair<uint64_t, UserId>> recent_senders(const Store& store, const Conv& conv, size_t limit) {
  std::vector<std::pair<uint64_t, UserId>> out;
  if (limit == 0) return out;
  auto prefix = keys::message_prefix(conv);
  store.scan(prefix, keys::prefix_end(prefix), true, [&](std::string_view key, std::string_view value) {
    if (key.size() >= prefix.size() + 8)
      out.emplace_back(keys::get_u64(key.substr(prefix.size())), stored_message_sender(value));
    return out.size() < limit;
  });
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<Conv> direct_conversations(const Store& store, UserId user) {
  std::vector<Conv> direct;
  auto prefix = keys::user_conv_prefix(user);
  store.scan(prefix, keys::prefix_end(prefix), false, [&](std::string_view key, std::string_view) {
    if (key.size() >= prefix.size() + 17) direct.push_back(keys::get_conv(key.substr(prefix.size())));
    return true;
  });
  return direct;
}

uint64_t conversation_head(const Store& store, const Conv& conv) {
  return store.counter(keys::counter_conv_seq(conv));
}

std::string msg_event_members(const Conv& conv, uint64_t seq, UserId from, const std::string& body_json,
                              int64_t ts) {
  std::string m;
  m.reserve(body_json.size() + 96);
  m.append("\"conv\":\"").append(conv.str()).append("\",\"seq\":").append(std::to_string(seq));
  m.append(",\"from\":").append(std::to_string(from));
  m.append(",\"body\":").append(body_json);
  m.append(",\"ts\":").append(std::to_string(ts));
  return m;
}

std::string recalled_event_members(const Conv& conv, uint64_t seq, UserId by) {
  return "\"conv\":\"" + conv.str() + "\",\"seq\":" + std::to_string(seq) + ",\"by\":" + std::to_string(by);
}

std::string read_event_members(const Conv& conv, UserId reader, uint64_t seq) {
  return "\"conv\":\"" + conv.str() + "\",\"reader\":" + std::to_string(reader) + ",\"seq\":" + std::to_string(seq);
}

json message_api_json(const Conv& conv, uint64_t seq, const StoredMessage& m) {
  json out{{"conv", conv.str()}, {"seq", seq}, {"from", m.from}, {"ts", m.ts}};
  out["body"] = m.recalled ? json::object() : json::parse(m.body_json, nullptr, false);
  if (out["body"].is_discarded()) out["body"] = json::object();
  if (m.recalled) out["recalled"] = true;
  return out;
}

uint64_t load_read_cursor(const Store& store, UserId user, const Conv& conv) {
  std::string value;
  if (!store.get(keys::read_cursor(user, conv), &value) || value.size() != 8) return 0;
  return keys::get_u64(value);
}

void put_read_cursor(Txn& txn, UserId user, const Conv& conv, uint64_t seq) {
  std::string value;
  keys::put_u64(value, seq);
  txn.put(keys::read_cursor(user, conv), value);
}

uint64_t count_unread(const Store& store, const Conv& conv, UserId reader, uint64_t after, uint64_t head) {
  if (head <= after) return 0;
  uint64_t unread = 0;
  auto prefix = keys::message_prefix(conv);
  store.scan(keys::message(conv, after + 1), keys::prefix_end(prefix), false,
             [&](std::string_view key, std::string_view value) {
               if (keys::get_u64(key.substr(prefix.size())) > head) return false;
               if (stored_message_sender(value) != reader) ++unread;
               return true;
             });
  return unread;
}

ReadCounts::ReadCounts(const std::vector<std::pair<UserId, uint64_t>>& cursors) : by_member_(cursors) {
  std::sort(by_member_.begin(), by_member_.end());
  for (const auto& [member, cursor] : by_member_) sorted_.push_back(cursor);
  std::sort(sorted_.begin(), sorted_.end());
}

void ReadCounts::set(UserId member, uint64_t cursor) {
  auto it = std::lower_bound(by_member_.begin(), by_member_.end(), std::make_pair(member, uint64_t{0}));
  if (it != by_member_.end() && it->first == member) {
    auto old = std::lower_bound(sorted_.begin(), sorted_.end(), it->second);
    sorted_.erase(old);
    it->second = cursor;
  } else {
    by_member_.insert(it, {member, cursor});
  }
  sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), cursor), cursor);
}

void ReadCounts::erase(UserId member) {
  auto it = std::lower_bound(by_member_.begin(), by_member_.end(), std::make_pair(member, uint64_t{0}));
  if (it == by_member_.end() || it->first != member) return;
  sorted_.erase(std::lower_bound(sorted_.begin(), sorted_.end(), it->second));
  by_member_.erase(it);
}

uint64_t ReadCounts::cursor_of(UserId member) const {
  auto it = std::lower_bound(by_member_.begin(), by_member_.end(), std::make_pair(member, uint64_t{0}));
  return it != by_member_.end() && it->first == member ? it->second : 0;
}

bool ReadCounts::has(UserId member) const {
  auto it = std::lower_bound(by_member_.begin(), by_member_.end(), std::make_pair(member, uint64_t{0}));
  return it != by_member_.end() && it->first == member;
}

uint64_t ReadCounts::count(uint64_t seq, UserId sender) const {
  auto at_or_beyond = static_cast<uint64_t>(sorted_.end() - std::lower_bound(sorted_.begin(), sorted_.end(), seq));
  if (has(sender) && cursor_of(sender) >= seq) --at_or_beyond;
  return at_or_beyond;
}

ReadCounts load_read_counts(const Store& store, GroupId group, const std::vector<UserId>& members) {
  std::vector<std::pair<UserId, uint64_t>> cursors;
  cursors.reserve(members.size());
  auto conv = Conv::group(group);
  for (auto m : members) cursors.emplace_back(m, load_read_cursor(store, m, conv));
  return ReadCounts(cursors);
}

}  // namespace im
