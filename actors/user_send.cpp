// The send side of the user actor: cseq reordering, cid deduplication, validation and the one
// atomic write that stores a message with its inbox entries (PROTOCOL.md section 5).

#include <spdlog/spdlog.h>

#include "actors/inbox_writer.hpp"
#include "actors/user_state.hpp"
#include "protocol/frames.hpp"
#include "store/conversations.hpp"
#include "store/keys.hpp"

namespace im {

namespace {

using json = nlohmann::json;
constexpr size_t kMaxHeldPerDevice = 256;

void reply_error(UserSelf* self, const std::string& device, Error code, const std::string& message,
                 const SendCommand& cmd) {
  send_to_device(self, device, frames::error(code, message, cmd.rid, cmd.request.cid));
}

void reply_ack(UserSelf* self, const AckWaiter& waiter, const std::string& cid,
               const DedupRecord& answer) {
  send_text_to_device(self, waiter.device, frames::send_ack(cid, answer.conv, answer.seq, answer.ts, waiter.rid));
}

// Validates and writes one send whose cseq turn has come.
void apply_send(UserSelf* self, const std::string& device, SendCommand cmd) {
  auto& st = self->state;
  auto& req = cmd.request;
  AckWaiter waiter{device, cmd.rid};

  // Deduplicate by cid: a resend gets the identical answer, and no second message.
  if (auto waiting = st.in_flight.find(req.cid); waiting != st.in_flight.end()) {
    waiting->second.push_back(waiter);
    return;
  }
  // A resend whose write is done is answered from its stored dedup record. The index says "not
  // stored" without a read for nearly every new cid; the record was readable before on_committed
  // took the cid out of in_flight.
  auto now = now_ms();
  std::optional<DedupRecord> answer;
  bool unreadable = false;
  if (st.ctx->dedup_index.may_be_stored(st.user, req.cid))
    answer = find_dedup(st.ctx->store, st.user, req.cid, now, &unreadable);
  if (unreadable) {  // it may be stored: writing it again could store it twice
    reply_error(self, device, Error::unavailable, "could not check the cid; send it again", cmd);
    return;
  }
  if (answer) {
    st.ctx->counters.dedup_hits++;
    if (!req.cseq) {
      reply_ack(self, waiter, req.cid, *answer);
      return;
    }
    // A send written before a crash whose record write was lost: the record catches up first.
    st.in_flight[req.cid].push_back(waiter);
    record_cseq_then(self, device, *req.cseq, [self, cid = req.cid, answer = *answer] {
      auto waiters = std::move(self->state.in_flight[cid]);
      self->state.in_flight.erase(cid);
      for (auto& w : waiters) reply_ack(self, w, cid, answer);
    });
    return;
  }

  if (req.to.is_group) {  // the group actor writes it (user_group_send.cpp)
    send_to_group(self, device, std::move(cmd), std::move(waiter));
    return;
  }
  UserId peer = req.to.id;
  if (peer == st.user) {
    reply_error(self, device, Error::bad_request, "cannot send to yourself", cmd);
    return;
  }
  if (!st.ctx->accounts.exists(peer)) {
    reply_error(self, device, Error::no_such_user, "no such user", cmd);
    return;
  }
  std::string ignored;
  if (st.ctx->store.get(keys::block(peer, st.user), &ignored)) {
    reply_error(self, device, Error::blocked, "the recipient blocked you", cmd);
    return;
  }

  // One atomic write: the message, both inbox entries, the dedup record, the conversation lists.
  auto conv = Conv::direct(st.user, peer);
  auto outcome = std::make_shared<CommitOutcome>();
  outcome->cid = req.cid;
  outcome->peer = peer;
  outcome->started = Clock::now();
  auto user = st.user;
  auto body = std::move(req.body_json);
  auto cid = req.cid;
  auto& opts = st.ctx->options;
  auto max_events = static_cast<uint64_t>(opts.inbox_max_events);
  auto dedup_expiry = now + opts.dedup_retention_s * 1000;
  auto* index = &st.ctx->dedup_index;
  // A send with a cseq moves the device's record past it: in the same write, so that after a crash
  // the device resumes its numbering where the stored messages end. Without a cseq nothing
  // changed, and the write stays one key smaller. This actor queues it like every other write of
  // the record, so it lands in order with them.
  std::optional<DeviceRecord> record;
  if (auto it = st.devices.find(device); it != st.devices.end() && req.cseq) {
    auto& dev = it->second;
    dev.record_cseq = std::max(dev.record_cseq, *req.cseq + 1);
    dev.cursor_dirty = false;
    dev.cursor_stored = dev.cursor;
    record = device_record(dev);
  }
  // The conversation lists only need the entry to exist; it is written until a write has made it so.
  bool list_conv = st.listed_peers.count(peer) == 0;
  st.in_flight[cid].push_back(waiter);
  CommitHints hints;  // what the build numbers, named ahead
  if (st.ctx->store.uses_hints())
    hints.counters = {keys::counter_conv_seq(conv), keys::counter_inbox_head(user), keys::counter_inbox_head(peer)};
  st.ctx->store.commit(
      [=](Txn& txn) {
        auto ts = now_ms();
        auto seq = txn.next(keys::counter_conv_seq(conv));
        txn.put(keys::message(conv, seq), stored_message_json(StoredMessage{user, body, ts, false}));
        auto members = msg_event_members(conv, seq, user, body, ts);
        auto own_members = members + ",\"cid\":" + json(cid).dump();
        outcome->own_useq = append_inbox_msg(txn, user, MsgRef{conv, seq, ts, cid}, own_members, max_events,
                                             &outcome->own_text);
        outcome->peer_useq = append_inbox_msg(txn, peer, MsgRef{conv, seq, ts, {}}, members, max_events,
                                              &outcome->peer_text);
        outcome->answer = DedupRecord{conv.str(), seq, ts};
        put_dedup(txn, *index, user, cid, outcome->answer, dedup_expiry);
        if (list_conv) {
          txn.put(keys::user_conv(user, conv), "");
          txn.put(keys::user_conv(peer, conv), "");
        }
        if (record) put_device(txn, user, device, *record);
      },
      [self = caf::actor_cast<caf::actor>(self), outcome, ctx = st.ctx](bool ok) {
        outcome->ok = ok;
        // The peer hears of its event from the commit thread, like every other inbox append
        // (inbox_writer.cpp), so its notifications arrive in useq order and its in-memory tail
        // stays contiguous. Through this actor, the peer's own echo could overtake it.
        if (ok) notify_appended(*ctx, outcome->peer, outcome->peer_useq, std::move(outcome->peer_text));
        caf::anon_send(self, committed_atom::value, outcome);
      },
      std::move(hints));
}

// Applies every held send in cseq order, reporting the cseqs that never came.
void flush_held(UserSelf* self, const std::string& device, DeviceState& dev) {
  auto held = std::move(dev.reorder.held);
  dev.reorder.held.clear();
  ++dev.reorder.timer_generation;
  if (held.empty()) return;
  std::vector<uint64_t> missing;
  for (auto& [cseq, cmd] : held) {
    for (auto k = dev.next_cseq; k < cseq; ++k) missing.push_back(k);
    dev.next_cseq = cseq + 1;
  }
  json error = frames::error(Error::seq_gap, "sends were missing; applied without them");
  error["missing"] = missing;
  send_to_device(self, device, error);
  for (auto& [cseq, cmd] : held) apply_send(self, device, std::move(cmd));
}

}  // namespace

void record_cseq_then(UserSelf* self, const std::string& device, uint64_t cseq, std::function<void()> then) {
  auto& st = self->state;
  DeviceRecord record;
  if (auto it = st.devices.find(device); it != st.devices.end()) {
    auto& dev = it->second;
    dev.record_cseq = std::max(dev.record_cseq, cseq + 1);
    dev.cursor_dirty = false;
    dev.cursor_stored = dev.cursor;
    record = device_record(dev);
  } else if (auto left = st.left_devices.find(device); left != st.left_devices.end()) {
    left->second.next_cseq = std::max(left->second.next_cseq, cseq + 1);
    record = left->second;
  } else {
    then();
    return;
  }
  // Written even when the record is already past `cseq`: that value may still be queued, and
  // `then` must not run before it is durable.
  auto user = st.user;
  write_then(self, [=](Txn& txn) { put_device(txn, user, device, record); }, [then](bool) { then(); });
}

void on_send(UserSelf* self, SendCommand cmd) {
  auto& st = self->state;
  auto device = cmd.device;
  auto it = st.devices.find(device);
  if (it == st.devices.end()) return;  // the connection left meanwhile
  auto& dev = it->second;
  if (!cmd.request.cseq) {
    apply_send(self, device, std::move(cmd));
    return;
  }
  auto cseq = *cmd.request.cseq;
  if (cseq < dev.next_cseq) {  // a resend of something already applied: dedup answers it
    apply_send(self, device, std::move(cmd));
    return;
  }
  if (cseq > dev.next_cseq) {
    st.ctx->counters.reorder_holds++;
    bool first = dev.reorder.held.empty();
    dev.reorder.held.emplace(cseq, std::move(cmd));
    if (dev.reorder.held.size() > kMaxHeldPerDevice) {
      flush_held(self, device, dev);
      return;
    }
    if (first) {
      auto generation = ++dev.reorder.timer_generation;
      self->delayed_send(self, std::chrono::milliseconds(st.ctx->options.reorder_ms),
                         reorder_tick_atom::value, device, generation);
    }
    return;
  }
  dev.next_cseq = cseq + 1;
  apply_send(self, device, std::move(cmd));
  // The gap may be filled now: apply what was held behind it.
  while (!dev.reorder.held.empty() && dev.reorder.held.begin()->first <= dev.next_cseq) {
    auto node = dev.reorder.held.extract(dev.reorder.held.begin());
    if (node.key() == dev.next_cseq) dev.next_cseq++;
    apply_send(self, device, std::move(node.mapped()));
  }
  if (dev.reorder.held.empty()) ++dev.reorder.timer_generation;
}

void on_reorder_tick(UserSelf* self, const std::string& device, uint64_t generation) {
  auto it = self->state.devices.find(device);
  if (it == self->state.devices.end()) return;
  if (it->second.reorder.timer_generation != generation) return;
  flush_held(self, device, it->second);
}

void on_committed(UserSelf* self, const CommitOutcomePtr& outcome) {
  auto& st = self->state;
  auto waiters = std::move(st.in_flight[outcome->cid]);
  st.in_flight.erase(outcome->cid);
  if (!outcome->ok) {
    spdlog::debug("user {}: store write failed for cid {}", st.user, outcome->cid);
    for (auto& w : waiters)
      send_to_device(self, w.device,
                     frames::error(Error::unavailable, "could not store the message", w.rid, outcome->cid));
    return;
  }
  st.ctx->counters.messages_accepted++;
  st.ctx->counters.inbox_appends += 2;
  st.listed_peers.insert(outcome->peer);
  // Counted before the send_ack leaves: a client holding its send_ack finds it in /metrics.
  st.ctx->counters.send_ack.observe(Clock::now() - outcome->started);
  for (auto& w : waiters) reply_ack(self, w, outcome->cid, outcome->answer);
  note_appended(self, outcome->own_useq, std::make_shared<const std::string>(std::move(outcome->own_text)));
  pump_all(self);
}

}  // namespace im
