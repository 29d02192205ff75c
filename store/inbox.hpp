#pragma once
// Inbox, device and dedup records of one user (PROTOCOL.md sections 5 and 6), over Store.
// Reads are plain functions; writes are helpers used inside a Store::commit build function so
// that a message, its inbox entries and its dedup record land in one atomic write.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ids.hpp"
#include "store/dedup_index.hpp"
#include "store/store.hpp"

namespace im {

struct InboxEvent {
  uint64_t useq = 0;
  std::string text;  // the event frame as JSON text, with its useq
};

// ON-DISK FORMAT of keys::inbox values, one of:
//   - the event's JSON text, with its useq (starts with '{');
//   - a `msg` event by reference: kMsgRefTag, put_conv (17 bytes), seq (u64), ts (u64), then the
//     sender's cid (empty in recipients' copies). Its text is rebuilt from keys::message on read:
//     a message recalled meanwhile reads as `"body":{},"recalled":true`.
// Both forms may be present in one inbox (older data directories hold only text).
constexpr char kMsgRefTag = '\x01';

// What a device left behind: the highest useq it acknowledged and the next cseq expected.
struct DeviceRecord {
  bool known = false;
  uint64_t cursor = 0;
  uint64_t next_cseq = 1;
};

// The answer a send got, kept so a resend with the same cid gets the identical send_ack.
struct DedupRecord {
  std::string conv;
  uint64_t seq = 0;
  int64_t ts = 0;
};

// Builds an inbox event's text: {"type":TYPE,"useq":USEQ,<members>}. `members` is the rest of the
// object without braces, serialized once and shared by every recipient.
std::string inbox_event_text(const char* type, uint64_t useq, const std::string& members);

uint64_t inbox_head(const Store& store, UserId user);
// The first `limit` readable events with useq > after, ascending; fewer only at the end of the
// inbox. Events lost to retention leave holes in the useqs; so does a `msg` reference whose message
// cannot be read (logged as an error).
std::vector<InboxEvent> read_inbox(const Store& store, UserId user, uint64_t after, size_t limit);
// The oldest useq still kept (0 when the inbox is empty).
uint64_t inbox_oldest(const Store& store, UserId user);

DeviceRecord load_device(const Store& store, UserId user, const std::string& device);
void put_device(Txn& txn, UserId user, const std::string& device, const DeviceRecord& record);

// The record of `cid` if present and younger than its retention. With `failed`, a read error sets
// *failed (and gives nullopt): a caller that would otherwise store the message must not, since
// the cid may be stored already.
std::optional<DedupRecord> find_dedup(const Store& store, UserId user, const std::string& cid,
                                      int64_t now_ms, bool* failed = nullptr);
// The same, read inside a commit's build (what earlier writes stored).
std::optional<DedupRecord> find_dedup(Txn& txn, UserId user, const std::string& cid, int64_t now_ms,
                                      bool* failed = nullptr);
// Writes `cid`'s record and tells `index` (see store/dedup_index.hpp) within the same build.
void put_dedup(Txn& txn, DedupIndex& index, UserId user, const std::string& cid, const DedupRecord& record,
               int64_t expires_ms);

// Appends an event to `user`'s inbox within `txn` and returns its useq. Keeps at most
// `max_events` events: the one that falls out of the window is deleted in the same write.
uint64_t append_inbox(Txn& txn, UserId user, const char* type, const std::string& members,
                      uint64_t max_events, std::string* text_out);

// A `msg` event, stored as a reference to its message rather than as text: the message is stored
// once however many inboxes it reaches (a group's members, both sides of a 1:1 conversation), and
// read_inbox rebuilds the text from it. `cid` is set in the sender's own copy only.
struct MsgRef {
  Conv conv;
  uint64_t seq = 0;
  int64_t ts = 0;
  std::string cid;
};

// As append_inbox for a `msg` event: `members` are the event's members (msg_event_members, plus
// "cid" in the sender's copy), used only for `text_out`; the store keeps `ref`.
uint64_t append_inbox_msg(Txn& txn, UserId user, const MsgRef& ref, const std::string& members,
                          uint64_t max_events, std::string* text_out);

// The "ts" of a stored inbox event (its value as read from the store), if the event has one.
std::optional<int64_t> inbox_event_ts(std::string_view stored);

}  // namespace im
