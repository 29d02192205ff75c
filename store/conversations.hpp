#pragma once
// Stored messages, read cursors and the numbers derived from them (PROTOCOL.md sections 3 and 7):
// history pages, unread counts and group read counts. Everything here is computed from the
// stored data itself, so it cannot drift from it.
//
// ON-DISK FORMAT: keys::message(conv, seq) -> {"from":U,"body":{...},"ts":T[,"recalled":true]}
// (the "from" member first); keys::read_cursor(uid, conv) -> u64 big-endian.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/ids.hpp"
#include "store/store.hpp"

namespace im {

struct StoredMessage {
  UserId from = 0;
  std::string body_json;  // "{}" once recalled
  int64_t ts = 0;
  bool recalled = false;
};

// The stored form of a message.
std::string stored_message_json(const StoredMessage& m);
// Parses a stored message; nullopt if it is not one.
std::optional<StoredMessage> parse_stored_message(std::string_view value);
// The sender of a stored message without parsing the whole of it (0 if unreadable).
UserId stored_message_sender(std::string_view value);

std::optional<StoredMessage> load_message(const Store& store, const Conv& conv, uint64_t seq);
// The newest messages with seq < before (before = 0: no bound), at most `limit`, newest first.
std::vector<std::pair<uint64_t, StoredMessage>> messages_before(const Store& store, const Conv& conv,
                                                                uint64_t before, size_t limit);
// (seq, sender) of the newest `limit` messages, ascending.
std::vector<std::pair<uint64_t, UserId>> recent_senders(const Store& store, const Conv& conv, size_t limit);
// The newest seq of the conversation (0 when it has no message).
uint64_t conversation_head(const Store& store, const Conv& conv);
// The user's 1:1 conversations, in key order (a prefix scan of keys::user_conv).
std::vector<Conv> direct_conversations(const Store& store, UserId user);

// The members of a `msg` inbox event after "type" and "useq", without the sender's "cid":
// "conv":C,"seq":S,"from":U,"body":{...},"ts":T
std::string msg_event_members(const Conv& conv, uint64_t seq, UserId from, const std::string& body_json,
                              int64_t ts);
// "conv":C,"seq":S,"by":U, the members of a `recalled` inbox event.
std::string recalled_event_members(const Conv& conv, uint64_t seq, UserId by);
// "conv":C,"reader":U,"seq":S, the members of a `read` inbox event.
std::string read_event_members(const Conv& conv, UserId reader, uint64_t seq);
// The message object of the HTTP API: {conv, seq, from, body, ts} plus recalled:true.
nlohmann::json message_api_json(const Conv& conv, uint64_t seq, const StoredMessage& m);

uint64_t load_read_cursor(const Store& store, UserId user, const Conv& conv);
void put_read_cursor(Txn& txn, UserId user, const Conv& conv, uint64_t seq);

// Messages with seq in (after, head] whose sender is not `reader`.
uint64_t count_unread(const Store& store, const Conv& conv, UserId reader, uint64_t after, uint64_t head);

// Read counts of one group: how many members' cursors are at or beyond a seq, by binary search
// over the sorted cursors. count() excludes the message's sender.
class ReadCounts {
 public:
  ReadCounts() = default;
  // cursors: (member, cursor) for every member.
  explicit ReadCounts(const std::vector<std::pair<UserId, uint64_t>>& cursors);
  void set(UserId member, uint64_t cursor);  // adds the member if new
  void erase(UserId member);
  uint64_t cursor_of(UserId member) const;    // 0 for unknown members
  bool has(UserId member) const;
  // Members other than `sender` whose cursor >= seq.
  uint64_t count(uint64_t seq, UserId sender) const;
  const std::vector<std::pair<UserId, uint64_t>>& by_member() const { return by_member_; }

 private:
  std::vector<std::pair<UserId, uint64_t>> by_member_;  // ascending by member
  std::vector<uint64_t> sorted_;                        // every cursor, ascending
};

// The read counts of a group from the stored cursors of `members`.
ReadCounts load_read_counts(const Store& store, GroupId group, const std::vector<UserId>& members);

}  // namespace im
