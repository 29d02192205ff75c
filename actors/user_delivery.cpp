// The inbox side of the user actor: pushing events to devices in useq order within the ACK
// window, cumulative ACKs, and retransmission (PROTOCOL.md section 6).

#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/cursor_flush_ticker.hpp"
#include "actors/group_messages.hpp"
#include "actors/user_state.hpp"
#include "protocol/errors.hpp"
#include "protocol/frames.hpp"

namespace im {

namespace {

// At most how many recent events stay in memory; older ones are read back from the store. The tail
// must cover how far a busy device lags behind the head: 128 made the group benchmark read events
// back from the store and cost 15% of its rate.
constexpr size_t kRecentEvents = 512;

using std::chrono::milliseconds;

// The event with `useq` from the in-memory tail, or null.
SharedText recent_event(const UserState& st, uint64_t useq) {
  if (st.recent.empty()) return nullptr;
  auto first = st.recent.front().first;
  if (useq < first || useq > st.recent.back().first) return nullptr;
  return st.recent[useq - first].second;
}

void arm_retry_timer(UserSelf* self, const std::string& name, DeviceState& dev) {
  if (dev.retry_timer_armed) return;
  dev.retry_timer_armed = true;
  auto generation = ++dev.retry_generation;
  self->delayed_send(self, milliseconds(self->state.ctx->options.ack_timeout_ms),
                     retry_tick_atom::value, name, generation);
}

void push(UserSelf* self, DeviceState& dev, const SharedText& text) {
  dev.outlet->send(text);
  self->state.ctx->counters.deliveries++;
}

// The events of `dev` after dev.sent and before `next` are gone (retention, or a message that
// cannot be read): the device is told with a `gap` frame before event `next` (PROTOCOL.md
// section 6), and its cursor moves past the hole, since it can never acknowledge what is gone.
void skip_hole(UserSelf* self, const std::string& name, DeviceState& dev, uint64_t next) {
  spdlog::debug("user {} device {}: events {}..{} are gone, gap", self->state.user, name, dev.sent + 1,
                next - 1);
  dev.outlet->send(std::make_shared<const std::string>(frames::gap(next).dump()));
  self->state.ctx->counters.inbox_gaps++;
  dev.sent = next - 1;
  if (dev.cursor < dev.sent) {
    dev.cursor = dev.sent;
    dev.retries = 0;
    note_cursor_moved(self, name, dev);
  }
}

}  // namespace

void send_to_device(UserSelf* self, const std::string& device, const nlohmann::json& frame) {
  send_text_to_device(self, device, frame.dump());
}

void send_text_to_device(UserSelf* self, const std::string& device, std::string frame_text) {
  auto it = self->state.devices.find(device);
  if (it == self->state.devices.end()) return;
  it->second.outlet->send(std::make_shared<const std::string>(std::move(frame_text)));
}

void drop_acknowledged(UserState& st) {
  uint64_t everyone_has = st.head;
  for (const auto& [name, dev] : st.devices) everyone_has = std::min(everyone_has, dev.cursor);
  while (!st.recent.empty() && st.recent.front().first <= everyone_has) st.recent.pop_front();
}

void note_appended(UserSelf* self, uint64_t useq, SharedText text) {
  auto& st = self->state;
  if (useq <= st.head) return;  // already known (read from the store at start)
  if (st.devices.empty()) {  // nobody to push it to; a device that connects reads the store
    st.recent.clear();
    st.head = useq;
    return;
  }
  if (!st.recent.empty() && st.recent.back().first + 1 != useq) st.recent.clear();
  st.recent.emplace_back(useq, std::move(text));
  // No more than the inbox keeps (--inbox-max-events): an event the store dropped is gone for
  // every device alike, and one that lags gets a gap (skip_hole), whether or not it was cached.
  auto keep = std::min<size_t>(kRecentEvents,
                               static_cast<size_t>(std::max<int64_t>(1, st.ctx->options.inbox_max_events)));
  while (st.recent.size() > keep) st.recent.pop_front();
  // Events between the old head and useq, if any, were committed before it and are read from
  // the store when a device needs them.
  st.head = useq;
}

void pump(UserSelf* self, const std::string& name) {
  auto& st = self->state;
  auto it = st.devices.find(name);
  if (it == st.devices.end()) return;
  auto& dev = it->second;
  if (dev.closing) return;
  auto window = static_cast<uint64_t>(std::max<int64_t>(1, st.ctx->options.ack_window));
  bool pushed = false;
  while (dev.sent < st.head && dev.sent - dev.cursor < window) {
    if (dev.cursor == dev.sent) dev.oldest_unacked_at = Clock::now();
    if (auto text = recent_event(st, dev.sent + 1)) {
      push(self, dev, text);
      ++dev.sent;
      pushed = true;
      continue;
    }
    auto room = static_cast<size_t>(window - (dev.sent - dev.cursor));
    auto events = read_inbox(st.ctx->store, st.user, dev.sent, room);
    if (events.empty()) {
      // Everything up to head is gone: the next event the device gets is the next one appended.
      skip_hole(self, name, dev, st.head + 1);
      break;
    }
    for (auto& e : events) {
      if (e.useq != dev.sent + 1) skip_hole(self, name, dev, e.useq);
      if (dev.cursor == dev.sent) dev.oldest_unacked_at = Clock::now();
      push(self, dev, std::make_shared<const std::string>(std::move(e.text)));
      dev.sent = e.useq;
      pushed = true;
    }
  }
  if (pushed) arm_retry_timer(self, name, dev);
}

void pump_all(UserSelf* self) {
  for (auto& [name, dev] : self->state.devices) pump(self, name);
}

DeviceRecord device_record(const DeviceState& dev) { return DeviceRecord{true, dev.cursor, dev.record_cseq}; }

void write_then(UserSelf* self, Store::Build build, std::function<void(bool ok)> then) {
  auto continuation = std::make_shared<std::function<void(bool)>>(std::move(then));
  self->state.ctx->store.commit(std::move(build),
                                [me = caf::actor_cast<caf::actor>(self), continuation](bool ok) {
                                  caf::anon_send(me, user_written_atom::value, ok, GroupContinuation(continuation));
                                });
}

void persist_device(UserSelf* self, const std::string& name) {
  auto& st = self->state;
  auto it = st.devices.find(name);
  if (it == st.devices.end()) return;
  it->second.cursor_dirty = false;
  it->second.cursor_stored = it->second.cursor;
  auto record = device_record(it->second);
  auto user = st.user;
  st.ctx->store.commit([=](Txn& txn) { put_device(txn, user, name, record); }, nullptr);
}

void flush_cursors(UserSelf* self) {
  auto& st = self->state;
  st.cursor_flush_armed = false;
  std::vector<std::pair<std::string, DeviceRecord>> dirty;
  for (auto& [name, dev] : st.devices) {
    if (!dev.cursor_dirty) continue;
    dev.cursor_dirty = false;
    dev.cursor_stored = dev.cursor;
    dirty.emplace_back(name, device_record(dev));
  }
  if (dirty.empty()) return;
  auto user = st.user;
  st.ctx->store.commit(
      [user, dirty = std::move(dirty)](Txn& txn) {
        for (auto& [name, record] : dirty) put_device(txn, user, name, record);
      },
      nullptr);
}

void note_cursor_moved(UserSelf* self, const std::string& name, DeviceState& dev) {
  auto& st = self->state;
  drop_acknowledged(st);
  // The cursor only saves a device from being sent again what it already has (it drops those by
  // useq), so it is written within cursor_flush_ms, not once per ACK.
  if (st.ctx->options.cursor_flush_ms <= 0) {
    persist_device(self, name);
    return;
  }
  dev.cursor_dirty = true;
  if (!st.cursor_flush_armed) {
    st.cursor_flush_armed = true;
    st.ctx->cursor_flush.request(caf::actor_cast<caf::actor>(self));
  }
}

void on_ack(UserSelf* self, const std::string& name, uint64_t useq) {
  auto& st = self->state;
  auto it = st.devices.find(name);
  if (it == st.devices.end()) return;
  auto& dev = it->second;
  useq = std::min(useq, dev.sent);  // an ACK cannot cover what was never pushed
  if (useq <= dev.cursor) return;
  dev.cursor = useq;
  dev.retries = 0;
  dev.oldest_unacked_at = Clock::now();
  note_cursor_moved(self, name, dev);
  pump(self, name);
}

void on_retry_tick(UserSelf* self, const std::string& name, uint64_t generation) {
  auto& st = self->state;
  auto it = st.devices.find(name);
  if (it == st.devices.end()) return;
  auto& dev = it->second;
  if (generation != dev.retry_generation) return;
  dev.retry_timer_armed = false;
  if (dev.closing || dev.cursor >= dev.sent) return;
  auto timeout = milliseconds(st.ctx->options.ack_timeout_ms);
  auto waited = Clock::now() - dev.oldest_unacked_at;
  if (waited < timeout) {
    dev.retry_timer_armed = true;
    self->delayed_send(self, std::chrono::duration_cast<milliseconds>(timeout - waited) + milliseconds(1),
                       retry_tick_atom::value, name, generation);
    return;
  }
  if (dev.retries >= st.ctx->options.max_retries) {
    spdlog::info("user {} device {}: no ACK after {} retries, closing", st.user, name, dev.retries);
    st.ctx->counters.ack_timeouts++;
    dev.closing = true;
    self->send(dev.connection, close_atom::value, close_code::ack_timeout,
               std::string("ack timeout"));
    return;
  }
  ++dev.retries;
  // Resend the whole unacknowledged window, oldest first.
  auto first = dev.cursor + 1, last = dev.sent;
  dev.sent = dev.cursor;
  while (dev.sent < last) {
    auto before = dev.sent;
    if (auto text = recent_event(st, dev.sent + 1)) {
      push(self, dev, text);
      ++dev.sent;
    } else {
      auto events = read_inbox(st.ctx->store, st.user, dev.sent, static_cast<size_t>(last - dev.sent));
      for (auto& e : events) {
        // Events trimmed meanwhile (retention) leave a hole: what follows it may lie beyond
        // the window being resent, which the normal pump sends later.
        if (e.useq > last) break;
        push(self, dev, std::make_shared<const std::string>(std::move(e.text)));
        dev.sent = e.useq;
      }
    }
    if (dev.sent == before) {
      dev.sent = last;
      break;
    }
  }
  st.ctx->counters.retransmits += last - first + 1;
  dev.oldest_unacked_at = Clock::now();
  arm_retry_timer(self, name, dev);
}

}  // namespace im
