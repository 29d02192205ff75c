#include "actors/user_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/group_messages.hpp"
#include "actors/inspect.hpp"
#include "actors/user_state.hpp"
#include "protocol/frames.hpp"

namespace im {

namespace {

void schedule_passivation(UserSelf* self) {
  auto generation = ++self->state.idle_generation;
  self->delayed_send(self, std::chrono::milliseconds(self->state.ctx->options.user_idle_ms),
                     idle_check_atom::value, generation);
}

AttachReply attach(UserSelf* self, AttachRequest& req) {
  auto& st = self->state;
  AttachReply reply;
  auto existing = st.devices.find(req.device);
  if (existing == st.devices.end() &&
      st.devices.size() >= static_cast<size_t>(st.ctx->options.max_devices)) {
    reply.error = Error::too_many_devices;
    return reply;
  }
  bool was_online = !st.devices.empty();
  DeviceRecord record;
  uint64_t next_cseq = 1;  // the cseq expected next: past the record's when sends are in flight
  uint64_t stored = 0;  // the device's cursor as the store has it (or will, once queued writes land)
  if (existing != st.devices.end()) {
    // Same device again: the new connection replaces the old one.
    self->send(existing->second.connection, kick_atom::value, std::string("replaced"));
    // Its unwritten cursor is written now; the new connection's entry starts clean.
    if (existing->second.cursor_dirty) persist_device(self, req.device);
    record = device_record(existing->second);
    next_cseq = existing->second.next_cseq;
    stored = existing->second.cursor_stored;
    st.devices.erase(existing);
  } else if (auto left = st.left_devices.find(req.device); left != st.left_devices.end()) {
    // It left while this actor lived: the store may not have its last record yet.
    record = left->second;
    next_cseq = record.next_cseq;
    stored = record.cursor;
    st.left_devices.erase(left);
  } else {
    record = load_device(st.ctx->store, st.user, req.device);
    next_cseq = record.next_cseq;
    stored = record.known ? record.cursor : 0;
  }
  // A device never seen before starts at the head: it reads history over HTTP.
  uint64_t cursor = record.known ? record.cursor : st.head;
  if (req.since) cursor = *req.since;
  cursor = std::min(cursor, st.head);
  if (cursor < st.head) {
    auto oldest = inbox_oldest(st.ctx->store, st.user);
    reply.gap = oldest == 0 || oldest > cursor + 1;
    // Delivery resumes at the oldest event kept, even if older ones are still cached in memory.
    if (reply.gap) cursor = oldest == 0 ? st.head : oldest - 1;
  }
  DeviceState dev;
  dev.connection = req.connection;
  dev.outlet = req.outlet;
  dev.token_hash = req.token_hash;
  dev.cursor = cursor;
  dev.sent = cursor;
  dev.next_cseq = next_cseq;
  dev.record_cseq = record.next_cseq;
  dev.cursor_stored = stored;
  auto& added = st.devices.emplace(req.device, std::move(dev)).first->second;
  // `since` or a gap moved it: written like any other move (a new device is written below).
  if (record.known && added.cursor != stored) note_cursor_moved(self, req.device, added);
  reply.useq = st.head;
  reply.next_cseq = next_cseq;
  st.ctx->directory.set_online_devices(st.user, st.devices.size());
  if (!was_online) announce_presence(self, true);  // the first device (user_presence.cpp)
  if (!record.known) persist_device(self, req.device);
  ++st.idle_generation;  // cancels a pending passivation
  // Pushes start on the next turn; the outlet holds them until the connection actor has sent
  // auth_ok (Outlet::open), so auth_ok reaches the client first.
  self->send(self, sync_atom::value, req.device, cursor);
  return reply;
}

void detach(UserSelf* self, const std::string& device, const caf::actor& connection) {
  auto& st = self->state;
  auto it = st.devices.find(device);
  if (it == st.devices.end() || it->second.connection != connection) return;
  persist_device(self, device);
  st.left_devices[device] = device_record(it->second);
  st.devices.erase(it);
  drop_acknowledged(st);
  st.ctx->directory.set_online_devices(st.user, st.devices.size());
  if (st.devices.empty()) {
    announce_presence(self, false);  // the last device (user_presence.cpp)
    schedule_passivation(self);
  }
}

caf::behavior user_actor(UserSelf* self, Context* ctx, UserId user) {
  auto& st = self->state;
  st.ctx = ctx;
  st.user = user;
  // The directory registered this actor before spawning it returned, so every append after
  // this read notifies us; every append before it is covered by the head we read.
  st.head = inbox_head(ctx->store, user);
  // Indexes the user's stored cids on the commit thread, between writes (store/dedup_index.hpp);
  // until then every send reads the store.
  // An actor passivated meanwhile has forgotten the user: loading for it would leave an entry
  // that nobody forgets (still correct, but never freed).
  ctx->store.commit([](Txn&) {}, [ctx, user, me = self->address()](bool) {
    auto live = ctx->directory.find_user(user);
    if (live && live.address() == me) ctx->dedup_index.load(ctx->store, user);
  });
  ctx->counters.actors_user++;
  schedule_passivation(self);
  return {
      [=](attach_atom, AttachRequest& req) { return attach(self, req); },
      [=](detach_atom, const std::string& device, const caf::actor& connection) {
        detach(self, device, connection);
      },
      [=](send_atom, SendCommand& cmd) { on_send(self, std::move(cmd)); },
      [=](committed_atom, const CommitOutcomePtr& outcome) { on_committed(self, outcome); },
      [=](ack_atom, const std::string& device, uint64_t useq) { on_ack(self, device, useq); },
      [=](sync_atom, const std::string& device, uint64_t since) {
        auto it = self->state.devices.find(device);
        if (it == self->state.devices.end()) return;
        auto& dev = it->second;
        auto before = dev.cursor;
        dev.cursor = std::min(since, self->state.head);
        dev.sent = dev.cursor;
        dev.retries = 0;
        ++dev.retry_generation;
        dev.retry_timer_armed = false;
        if (dev.cursor != before) note_cursor_moved(self, device, dev);
        pump(self, device);
      },
      [=](appended_atom, uint64_t useq, const SharedText& text) {
        note_appended(self, useq, text);
        pump_all(self);
      },
      [=](cursor_flush_atom) { flush_cursors(self); },
      [=](retry_tick_atom, const std::string& device, uint64_t generation) {
        on_retry_tick(self, device, generation);
      },
      [=](reorder_tick_atom, const std::string& device, uint64_t generation) {
        on_reorder_tick(self, device, generation);
      },
      [=](live_push_atom, const SharedText& frame_text) { on_live_push(self, frame_text); },
      [=](inbound_atom, const std::string& device, const SharedText& frame_text) {
        on_client_request(self, device, frame_text);
      },
      [=](logout_atom, const std::string& token_hash) {
        for (auto& [name, dev] : self->state.devices)
          if (dev.token_hash == token_hash) self->send(dev.connection, kick_atom::value, std::string("logout"));
      },
      [=](idle_check_atom, uint64_t generation) {
        auto idle = [self, generation] {
          auto& st = self->state;
          return generation == st.idle_generation && st.devices.empty() && st.in_flight.empty();
        };
        if (!idle()) return;
        // A successor reads the device records from the store: it starts only once every record
        // this actor queued has landed (writes land in order), so no device resumes from an older one.
        write_then(self, [](Txn&) {}, [self, idle](bool) {
          if (!idle()) return;
          auto& st = self->state;
          // Before the directory lets a successor start, whose own load then comes after this.
          st.ctx->dedup_index.forget(st.user);
          st.ctx->directory.remove_user(st.user, self->address());
          self->quit();
        });
      },
      [=](user_written_atom, bool ok, const GroupContinuation& then) { (*then)(ok); },
      [=](inspect_atom) -> std::string { return user_snapshot(self); },
      [=](admin_kick_atom, const std::string& device) -> uint64_t { return admin_kick(self, device); },
      [=](shutdown_atom) {
        for (auto& [name, dev] : self->state.devices) persist_device(self, name);
        self->quit();
      },
  };
}

}  // namespace

caf::actor spawn_user_actor(Context& context, UserId user) {
  return context.system.spawn(user_actor, &context, user);
}

}  // namespace im
