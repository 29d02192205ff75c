#include "store/inbox.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "store/conversations.hpp"
#include "store/keys.hpp"

namespace im {

using json = nlohmann::json;

namespace {

constexpr size_t kMsgRefFixedSize = 1 + 17 + 8 + 8;  // tag, conv, seq, ts

bool is_msg_ref(std::string_view stored) {
  return stored.size() >= kMsgRefFixedSize && stored[0] == kMsgRefTag;
}

std::string encode_msg_ref(const MsgRef& ref) {
  std::string out;
  out.reserve(kMsgRefFixedSize + ref.cid.size());
  out.push_back(kMsgRefTag);
  keys::put_conv(out, ref.conv);
  keys::put_u64(out, ref.seq);
  keys::put_u64(out, static_cast<uint64_t>(ref.ts));
  out.append(ref.cid);
  return out;
}

MsgRef decode_msg_ref(std::string_view stored) {
  MsgRef ref;
  ref.conv = keys::get_conv(stored.substr(1));
  ref.seq = keys::get_u64(stored.substr(18));
  ref.ts = static_cast<int64_t>(keys::get_u64(stored.substr(26)));
  ref.cid.assign(stored.substr(kMsgRefFixedSize));
  return ref;
}

// The text of a `msg` event stored by reference, from its message as stored now; nullopt if the
// message is missing (only a damaged data directory lacks it).
std::optional<std::string> resolve_msg_ref(const Store& store, uint64_t useq, const MsgRef& ref) {
  auto message = load_message(store, ref.conv, ref.seq);
  if (!message) return std::nullopt;
  // A recalled message's body is not handed out, whatever the stored record still holds.
  auto members = msg_event_members(ref.conv, ref.seq, message->from, message->recalled ? "{}" : message->body_json,
                                   message->ts);
  if (message->recalled) members.append(",\"recalled\":true");
  if (!ref.cid.empty()) members.append(",\"cid\":").append(json(ref.cid).dump());
  return inbox_event_text("msg", useq, members);
}

// Up to `limit` stored events with useq > after, as stored (references unresolved).
std::vector<InboxEvent> scan_inbox(const Store& store, UserId user, uint64_t after, size_t limit) {
  std::vector<InboxEvent> out;
  store.scan(keys::inbox(user, after + 1), keys::prefix_end(keys::inbox_prefix(user)), false,
             [&](std::string_view key, std::string_view value) {
               InboxEvent e;
               e.useq = keys::get_u64(key.substr(9));
               e.text.assign(value);
               out.push_back(std::move(e));
               return out.size() < limit;
             });
  return out;
}


}  // namespace

std::string inbox_event_text(const char* type, uint64_t useq, const std::string& members) {
  std::string out;
  out.reserve(members.size() + 48);
  out.append("{\"type\":\"").append(type).append("\",\"useq\":").append(std::to_string(useq));
  if (!members.empty()) out.append(",").append(members);
  out.append("}");
  return out;
}

uint64_t inbox_head(const Store& store, UserId user) {
  return store.counter(keys::counter_inbox_head(user));
}


std::vector<InboxEvent> read_inbox(const Store& store, UserId user, uint64_t after, size_t limit) {
  std::vector<InboxEvent> out;
  // References are resolved after each scan, outside the iterator. One that cannot be resolved is
  // skipped like an event lost to retention, and the scan goes on so that `limit` events still come
  // back when there are that many: a caller takes fewer as the end of the inbox.
  size_t unresolved = 0;
  uint64_t first_unresolved = 0;
  while (out.size() < limit) {
    auto wanted = limit - out.size();
    auto stored = scan_inbox(store, user, after, wanted);
    if (stored.empty()) break;
    after = stored.back().useq;
    for (auto& e : stored) {
      if (is_msg_ref(e.text)) {
        auto text = resolve_msg_ref(store, e.useq, decode_msg_ref(e.text));
        if (!text) {
          if (unresolved++ == 0) first_unresolved = e.useq;
          continue;
        }
        e.text = std::move(*text);
      }
      out.push_back(std::move(e));
    }
    if (stored.size() < wanted) break;  // the end of the inbox
  }
  if (unresolved > 0)
    spdlog::error("user {}: {} inbox event(s) from useq {} refer to messages that cannot be read; skipped",
                  user, unresolved, first_unresolved);
  return out;
}

uint64_t inbox_oldest(const Store& store, UserId user) {
  uint64_t oldest = 0;
  store.scan(keys::inbox_prefix(user), keys::prefix_end(keys::inbox_prefix(user)), false,
             [&](std::string_view key, std::string_view) {
               oldest = keys::get_u64(key.substr(9));
               return false;
             });
  return oldest;
}

DeviceRecord load_device(const Store& store, UserId user, const std::string& device) {
  DeviceRecord r;
  std::string value;
  if (!store.get(keys::device(user, device), &value)) return r;
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded()) return r;
  r.known = true;
  r.cursor = j.value("cursor", uint64_t{0});
  r.next_cseq = j.value("next_cseq", uint64_t{1});
  return r;
}

void put_device(Txn& txn, UserId user, const std::string& device, const DeviceRecord& r) {
  // Written on the commit thread for most sends: built directly, as json{...}.dump() would.
  txn.put(keys::device(user, device),
          "{\"cursor\":" + std::to_string(r.cursor) + ",\"next_cseq\":" + std::to_string(r.next_cseq) + "}");
}

namespace {

std::optional<DedupRecord> parse_dedup(const std::string& value, int64_t now) {
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || j.value("expires_ms", int64_t{0}) <= now) return std::nullopt;
  DedupRecord r;
  r.conv = j.value("conv", std::string());
  r.seq = j.value("seq", uint64_t{0});
  r.ts = j.value("ts", int64_t{0});
  return r;
}

}  // namespace

namespace {

std::optional<DedupRecord> dedup_found(Lookup found, const std::string& value, int64_t now, bool* failed) {
  if (failed) *failed = found == Lookup::failed;
  if (found != Lookup::found) return std::nullopt;
  return parse_dedup(value, now);
}

}  // namespace

std::optional<DedupRecord> find_dedup(const Store& store, UserId user, const std::string& cid, int64_t now,
                                      bool* failed) {
  std::string value;
  auto found = store.lookup(keys::dedup(user, cid), &value);
  return dedup_found(found, value, now, failed);
}

std::optional<DedupRecord> find_dedup(Txn& txn, UserId user, const std::string& cid, int64_t now, bool* failed) {
  std::string value;
  auto found = txn.lookup(keys::dedup(user, cid), &value);
  return dedup_found(found, value, now, failed);
}

void put_dedup(Txn& txn, DedupIndex& index, UserId user, const std::string& cid, const DedupRecord& r,
               int64_t expires_ms) {
  index.note_put(user, cid);
  // One per send, on the commit thread: built directly, in the member order json{...}.dump() uses.
  std::string value = "{\"conv\":" + json(r.conv).dump();
  value.append(",\"expires_ms\":").append(std::to_string(expires_ms));
  value.append(",\"seq\":").append(std::to_string(r.seq));
  value.append(",\"ts\":").append(std::to_string(r.ts)).append("}");
  txn.put(keys::dedup(user, cid), value);
}

// The inbox head is an implied counter (keys.hpp): the inbox key put here records it.
uint64_t append_inbox(Txn& txn, UserId user, const char* type, const std::string& members,
                      uint64_t max_events, std::string* text_out) {
  uint64_t useq = txn.next(keys::counter_inbox_head(user));
  std::string text = inbox_event_text(type, useq, members);
  txn.put(keys::inbox(user, useq), text);
  if (max_events > 0 && useq > max_events) txn.del(keys::inbox(user, useq - max_events));
  if (text_out) *text_out = std::move(text);
  return useq;
}

uint64_t append_inbox_msg(Txn& txn, UserId user, const MsgRef& ref, const std::string& members,
                          uint64_t max_events, std::string* text_out) {
  uint64_t useq = txn.next(keys::counter_inbox_head(user));
  txn.put(keys::inbox(user, useq), encode_msg_ref(ref));
  if (max_events > 0 && useq > max_events) txn.del(keys::inbox(user, useq - max_events));
  if (text_out) *text_out = inbox_event_text("msg", useq, members);
  return useq;
}

std::optional<int64_t> inbox_event_ts(std::string_view stored) {
  if (is_msg_ref(stored)) return decode_msg_ref(stored).ts;
  auto event = json::parse(stored.begin(), stored.end(), nullptr, false);
  if (!event.is_object()) return std::nullopt;
  auto ts = event.find("ts");
  if (ts == event.end() || !ts->is_number_integer()) return std::nullopt;
  return ts->get<int64_t>();
}

}  // namespace im
