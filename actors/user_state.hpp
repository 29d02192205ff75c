#pragma once
// Private to the user actor's translation units.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/context.hpp"
#include "actors/messages.hpp"
#include "store/inbox.hpp"

namespace im {

using Clock = std::chrono::steady_clock;

// Sends held back until the cseq gap before them is filled (PROTOCOL.md section 5).
struct ReorderQueue {
  std::map<uint64_t, SendCommand> held;
  uint64_t timer_generation = 0;
};

struct DeviceState {
  caf::actor connection;
  std::shared_ptr<Outlet> outlet;  // pushes go here, straight to the session
  std::string token_hash;
  uint64_t cursor = 0;  // highest useq acknowledged
  uint64_t sent = 0;    // highest useq pushed; cursor <= sent <= head
  Clock::time_point oldest_unacked_at;
  int64_t retries = 0;
  bool retry_timer_armed = false;
  uint64_t retry_generation = 0;
  bool closing = false;  // ACK timeout hit: no more pushes
  uint64_t next_cseq = 1;  // the cseq whose turn it is (reordering)
  // The next_cseq the device record carries: one past the highest cseq of a send written, durable
  // before that send's send_ack leaves, so a device resuming after a crash is never held back for
  // a send it was told is stored. It does not count sends that were only accepted (held ones, one
  // whose turn came but whose write is queued behind others); a lower send still at the group
  // actor may be unwritten, and its resend with the same cid is then applied at once.
  uint64_t record_cseq = 1;
  ReorderQueue reorder;
  bool cursor_dirty = false;  // cursor acknowledged but not yet written (flush_cursors)
  uint64_t cursor_stored = 0;  // the cursor as last read from or handed to the store (admin view)
};

// Who waits for the send_ack of a cid whose write is in flight.
struct AckWaiter {
  std::string device;
  std::optional<std::string> rid;
};

struct CommitOutcome {
  bool ok = false;
  std::string cid;
  UserId peer = 0;
  DedupRecord answer;
  uint64_t own_useq = 0;
  std::string own_text;
  uint64_t peer_useq = 0;
  std::string peer_text;  // handed to the peer's actor by the commit callback (user_send.cpp)
  Clock::time_point started;  // when apply_send began the write: send->ack latency metric
};

struct UserState {
  static inline const char* name = "user";

  Context* ctx = nullptr;
  UserId user = 0;
  uint64_t head = 0;  // newest durable useq
  // A contiguous tail of the inbox: the events some connected device has not acknowledged yet
  // (at most 512), so pushes and resends need not read the store. Dropped once every device has
  // them: a caught-up user keeps next to nothing here (drop_acknowledged).
  std::deque<std::pair<uint64_t, SharedText>> recent;
  std::map<std::string, DeviceState> devices;          // connected devices only
  // The device records (keys::device) of devices that left while this actor lived, as last handed
  // to the store. This actor is the only writer of its devices' records, so these are ahead of the
  // store (whose write may not have landed yet) and a device that comes back resumes from them.
  std::unordered_map<std::string, DeviceRecord> left_devices;
  // Peers whose direct conversation is known to be in both users' lists (keys::user_conv): a send
  // to them writes no list entry. Forgotten on passivation, so the first send after it writes again.
  std::unordered_set<UserId> listed_peers;
  std::unordered_map<std::string, std::vector<AckWaiter>> in_flight;  // cid -> waiters
  uint64_t idle_generation = 0;
  bool cursor_flush_armed = false;  // asked the CursorFlushTicker; cleared by flush_cursors
  // Read cursors of one-to-one conversations (user_read.cpp), by conv id, loaded on first use;
  // this actor is their only writer, so the map is ahead of the store, never behind it.
  std::unordered_map<std::string, uint64_t> read_cursors;
  // One-to-one recalls written or being written, "conv/seq" (user_read.cpp): a second recall of
  // the same message, even while the first is in flight, changes nothing.
  std::unordered_map<std::string, bool> recalls_started;
  // Typing forwarded per conversation (user_typing.cpp): when, for the one-per-interval limit.
  std::unordered_map<std::string, Clock::time_point> typing_forwarded;

  ~UserState() {
    if (ctx) ctx->counters.actors_user--;
  }
};

using UserSelf = caf::stateful_actor<UserState>;

// Delivery (user_delivery.cpp).
void note_appended(UserSelf* self, uint64_t useq, SharedText text);
// Drops the in-memory events every connected device has acknowledged (all of them when none is).
void drop_acknowledged(UserState& st);
// `dev`'s cursor changed: drops what every device now has and schedules the cursor's write
// (within cursor_flush_ms, or at once when that is 0).
void note_cursor_moved(UserSelf* self, const std::string& device, DeviceState& dev);
void pump(UserSelf* self, const std::string& device);
void pump_all(UserSelf* self);
void on_ack(UserSelf* self, const std::string& device, uint64_t useq);
void on_retry_tick(UserSelf* self, const std::string& device, uint64_t generation);
// The record (keys::device) of a connected device as this actor would write it now.
DeviceRecord device_record(const DeviceState& dev);
// Writes a connected device's record at once. This actor is the only writer of its devices'
// records (persist_device, flush_cursors, a one-to-one send's own write, the write after a group
// send): writes land in the order they are queued, so the stored cursor and next_cseq never move back.
void persist_device(UserSelf* self, const std::string& device);
// Queues `build` and runs `then(ok)` in this actor once it was written (user_written_atom).
void write_then(UserSelf* self, Store::Build build, std::function<void(bool ok)> then);
// Writes every cursor acknowledged since the last write, in one commit (cursor_flush_atom, from the
// CursorFlushTicker).
void flush_cursors(UserSelf* self);

// Sending (user_send.cpp).
void on_send(UserSelf* self, SendCommand cmd);
void on_reorder_tick(UserSelf* self, const std::string& device, uint64_t generation);
void on_committed(UserSelf* self, const CommitOutcomePtr& outcome);
// The send with `cseq` from `device` is written (by the group actor, or before a crash): moves the
// device's record past it and runs `then` (its send_ack) once that record is durable, so that no
// device resumes with a next_cseq at or below a send it was told is stored.
void record_cseq_then(UserSelf* self, const std::string& device, uint64_t cseq, std::function<void()> then);
// A send to a group whose cseq turn has come and whose cid is new (user_group_send.cpp): the
// group actor writes it; `waiter` and later resends of the cid wait in in_flight meanwhile.
void send_to_group(UserSelf* self, const std::string& device, SendCommand cmd, AckWaiter waiter);

// Client requests of section 7 (user_requests.cpp dispatches; one file per feature).
void on_client_request(UserSelf* self, const std::string& device, const SharedText& frame_text);
void on_read(UserSelf* self, const std::string& device, const ReadRequest& req, const std::optional<std::string>& rid);
void on_recall(UserSelf* self, const std::string& device, const RecallRequest& req,
               const std::optional<std::string>& rid);
void on_typing(UserSelf* self, const std::string& device, const TypingRequest& req,
               const std::optional<std::string>& rid);

// Presence and other not-stored pushes (user_presence.cpp).
// Tells the user's online friends that its first device connected (true) or its last left (false).
void announce_presence(UserSelf* self, bool online);
// Sends a not-stored frame to every connected device of this user.
void on_live_push(UserSelf* self, const SharedText& frame_text);
// Hands a not-stored frame to another user's live actor, if that user has a device online.
void push_live(Context& ctx, UserId user, const SharedText& frame_text);

// Sends a frame (canonical JSON) to one device's connection.
void send_to_device(UserSelf* self, const std::string& device, const nlohmann::json& frame);
// The same, for a frame already serialized (frames::send_ack).
void send_text_to_device(UserSelf* self, const std::string& device, std::string frame_text);

}  // namespace im
