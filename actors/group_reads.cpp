// Read cursors of group members and the read counts their senders see (PROTOCOL.md section 7).
// The actor keeps every member's cursor sorted (ReadCounts), so a count is a binary search. A
// read marks the newest messages it covers as changed; changed counts go to the senders' online
// devices as `read_count` at most once per read_count_interval_ms, carrying the count at the
// moment they are sent.

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/group_state.hpp"
#include "actors/inbox_writer.hpp"
#include "store/inbox.hpp"

namespace im {

namespace {

using Clock = std::chrono::steady_clock;

void push_read_count(GroupSelf* self, UserId sender, uint64_t seq, uint64_t count) {
  auto& st = self->state;
  if (st.ctx->directory.online_devices(sender) == 0) return;
  auto actor = st.ctx->directory.find_user(sender);
  if (!actor) return;
  auto frame = "{\"type\":\"read_count\",\"conv\":\"" + st.conv.str() + "\",\"seq\":" + std::to_string(seq) +
               ",\"count\":" + std::to_string(count) + "}";
  self->send(actor, live_push_atom::value, SharedText(std::make_shared<const std::string>(std::move(frame))));
}

// Flushes now if the last flush is an interval ago, else arms the timer for when it will be.
void request_flush(GroupSelf* self) {
  auto& st = self->state;
  if (st.dirty.empty() || st.flush_armed) return;
  auto interval = std::chrono::milliseconds(st.ctx->options.read_count_interval_ms);
  auto since = Clock::now() - st.last_flush;
  if (since >= interval) {
    on_flush(self);
    return;
  }
  st.flush_armed = true;
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(interval - since) +
                               std::chrono::milliseconds(1),
                     group_flush_atom::value);
}

}  // namespace

void on_flush(GroupSelf* self) {
  auto& st = self->state;
  st.last_flush = Clock::now();
  auto dirty = std::move(st.dirty);
  st.dirty.clear();
  for (auto seq : dirty) {
    auto sender = st.recent_senders.find(seq);
    if (sender == st.recent_senders.end()) continue;  // fell out of the window meanwhile
    auto count = st.reads.count(seq, sender->second);
    auto& pushed = st.pushed_counts[seq];  // 0 at first: nobody but the sender had read it
    if (count == pushed) continue;
    pushed = count;
    push_read_count(self, sender->second, seq, count);
  }
  // Forget what was pushed for messages that left the window.
  auto oldest = st.recent_senders.empty() ? st.head + 1 : st.recent_senders.begin()->first;
  st.pushed_counts.erase(st.pushed_counts.begin(), st.pushed_counts.lower_bound(oldest));
}

void note_membership_read_change(GroupSelf* self, UserId member, uint64_t cursor) {
  auto& st = self->state;
  bool changed = false;
  for (auto it = st.recent_senders.begin(); it != st.recent_senders.end() && it->first <= cursor; ++it) {
    if (it->second == member) continue;  // a sender is never counted for its own message
    st.dirty.insert(it->first);
    changed = true;
  }
  if (changed) request_flush(self);
}

caf::response_promise on_group_read(GroupSelf* self, UserId reader, uint64_t seq) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (!st.record.has_member(reader)) {
    rp.deliver(group_error(Error::not_member, "you are not a member of this group"));
    return rp;
  }
  // A cursor never moves backwards, nor beyond the newest message.
  auto target = std::min(seq, st.head);
  auto old = st.reads.cursor_of(reader);
  if (target <= old) {
    rp.deliver(GroupReply{});
    return rp;
  }
  st.reads.set(reader, target);
  for (auto it = st.recent_senders.upper_bound(old); it != st.recent_senders.end() && it->first <= target; ++it)
    if (it->second != reader) st.dirty.insert(it->first);
  auto conv = st.conv;
  auto max_events = static_cast<uint64_t>(st.ctx->options.inbox_max_events);
  struct Written {
    uint64_t useq = 0;
    std::string text;
  };
  auto written = std::make_shared<Written>();
  commit_then(
      self,
      [=](Txn& txn) {
        put_read_cursor(txn, reader, conv, target);
        written->useq = append_inbox(txn, reader, "read", read_event_members(conv, reader, target), max_events,
                                     &written->text);
      },
      [self, rp, written, reader](bool ok) mutable {
        auto& st = self->state;
        if (!ok) {
          spdlog::debug("group {}: store write failed for a read of user {}", st.gid, reader);
          load_group_state(self);
          rp.deliver(group_error(Error::unavailable, "could not store the read cursor"));
          return;
        }
        st.ctx->counters.inbox_appends++;
        rp.deliver(GroupReply{});
        notify_appended(*st.ctx, reader, written->useq, std::move(written->text));
        request_flush(self);
      });
  return rp;
}

}  // namespace im
