// Group messages (PROTOCOL.md sections 5 and 7): one atomic write stores the message once, appends
// a `msg` event to every member's inbox and records the sender's dedup answer; recall rewrites the
// message and tells every member.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/group_state.hpp"
#include "actors/inbox_writer.hpp"
#include "store/accounts.hpp"
#include "store/keys.hpp"

namespace im {

namespace {

using json = nlohmann::json;

// What a write produced for each member, in member order; filled by the build function.
struct Appended {
  std::vector<uint64_t> useqs;
  std::vector<std::string> texts;
  DedupRecord answer;
  bool resend = false;  // the cid was already stored: `answer` is the stored one, nothing written
  bool unreadable = false;  // its dedup record could not be read: nothing written
};

void notify_members(Context& ctx, const std::vector<UserId>& members, Appended& appended) {
  for (size_t i = 0; i < members.size() && i < appended.useqs.size(); ++i)
    notify_appended(ctx, members[i], appended.useqs[i], std::move(appended.texts[i]));
}

}  // namespace

void remember_sender(GroupSelf* self, uint64_t seq, UserId from) {
  auto& st = self->state;
  st.recent_senders[seq] = from;
  auto window = static_cast<size_t>(std::max<int64_t>(0, st.ctx->options.read_count_window));
  while (st.recent_senders.size() > window) st.recent_senders.erase(st.recent_senders.begin());
}

caf::response_promise on_group_send(GroupSelf* self, GroupSendCommand& cmd) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (!st.record.has_member(cmd.from)) {
    rp.deliver(group_error(Error::not_member, "you are not a member of this group"));
    return rp;
  }
  // A resend of a cid whose write is in flight (its sender stopped waiting: group_timeout_ms) gets
  // that write's answer. One whose write is done finds the record in its build, below.
  auto send_key = std::make_pair(cmd.from, cmd.cid);
  if (auto pending = st.sends_in_flight.find(send_key); pending != st.sends_in_flight.end()) {
    pending->second.push_back(rp);
    return rp;
  }
  st.sends_in_flight[send_key];
  // Removed members no longer receive: the write uses the members as of now, and membership
  // writes are handed to the store in the order this actor made them.
  auto members = std::make_shared<const std::vector<UserId>>(st.record.members);
  auto appended = std::make_shared<Appended>();
  auto conv = st.conv;
  auto from = cmd.from;
  auto cid = std::move(cmd.cid);
  auto body = std::move(cmd.body_json);
  auto& opts = st.ctx->options;
  auto max_events = static_cast<uint64_t>(opts.inbox_max_events);
  auto dedup_expiry = now_ms() + opts.dedup_retention_s * 1000;
  auto* index = &st.ctx->dedup_index;
  // The counters and the dedup record the build uses, named ahead (CommitHints).
  CommitHints hints;
  if (st.ctx->store.uses_hints()) {
    hints.counters.reserve(members->size() + 1);
    hints.counters.push_back(keys::counter_conv_seq(conv));
    for (auto member : *members) hints.counters.push_back(keys::counter_inbox_head(member));
    hints.reads.push_back(keys::dedup(from, cid));
  }
  commit_then(
      self,
      [=](Txn& txn) {
        appended->useqs.clear();
        appended->texts.clear();
        auto ts = now_ms();
        if (auto stored = find_dedup(txn, from, cid, ts, &appended->unreadable)) {
          appended->answer = *stored;
          appended->resend = true;
          return;
        }
        if (appended->unreadable) return;  // it may be stored: writing it again could store it twice
        auto seq = txn.next(keys::counter_conv_seq(conv));
        txn.put(keys::message(conv, seq), stored_message_json(StoredMessage{from, body, ts, false}));
        // Serialized once; only the {"type":"msg","useq":N, prefix differs per member.
        auto shared = msg_event_members(conv, seq, from, body, ts);
        auto own = shared + ",\"cid\":" + json(cid).dump();
        appended->useqs.reserve(members->size());
        appended->texts.reserve(members->size());
        const MsgRef received{conv, seq, ts, {}};
        for (auto member : *members) {
          std::string text;
          appended->useqs.push_back(
              member == from
                  ? append_inbox_msg(txn, member, MsgRef{conv, seq, ts, cid}, own, max_events, &text)
                  : append_inbox_msg(txn, member, received, shared, max_events, &text));
          appended->texts.push_back(std::move(text));
        }
        appended->answer = DedupRecord{conv.str(), seq, ts};
        put_dedup(txn, *index, from, cid, appended->answer, dedup_expiry);
      },
      [self, rp, members, appended, from, send_key](bool ok) mutable {
        auto& st = self->state;
        auto waiting = std::move(st.sends_in_flight[send_key]);
        st.sends_in_flight.erase(send_key);
        waiting.push_back(rp);
        if (!ok) {
          spdlog::debug("group {}: store write failed for a message of user {}", st.gid, from);
          load_group_state(self);
          for (auto& w : waiting) w.deliver(group_error(Error::unavailable, "could not store the message"));
          return;
        }
        if (appended->unreadable) {
          for (auto& w : waiting) w.deliver(group_error(Error::unavailable, "could not check the cid; send it again"));
          return;
        }
        GroupReply reply;
        reply.answer = appended->answer;
        if (appended->resend) {
          for (auto& w : waiting) w.deliver(reply);
          return;
        }
        st.head = std::max(st.head, appended->answer.seq);
        remember_sender(self, appended->answer.seq, from);
        st.ctx->counters.messages_accepted++;
        st.ctx->counters.inbox_appends += members->size();
        for (auto& w : waiting) w.deliver(reply);
        notify_members(*st.ctx, *members, *appended);
      },
      std::move(hints));
  return rp;
}

caf::response_promise on_group_recall(GroupSelf* self, UserId by, uint64_t seq) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (!st.record.has_member(by)) {
    rp.deliver(group_error(Error::not_member, "you are not a member of this group"));
    return rp;
  }
  auto message = seq <= st.head ? load_message(st.ctx->store, st.conv, seq) : std::nullopt;
  if (!message) {
    rp.deliver(group_error(Error::not_found, "no such message"));
    return rp;
  }
  if (message->from != by) {
    rp.deliver(group_error(Error::forbidden, "only the sender may recall a message"));
    return rp;
  }
  if (message->recalled || st.recalling.count(seq)) {  // already done: nothing more to tell anyone
    rp.deliver(GroupReply{});
    return rp;
  }
  if (now_ms() - message->ts > st.ctx->options.recall_window_ms) {
    rp.deliver(group_error(Error::recall_expired, "the recall window has passed"));
    return rp;
  }
  st.recalling.insert(seq);
  auto members = std::make_shared<const std::vector<UserId>>(st.record.members);
  auto appended = std::make_shared<Appended>();
  auto conv = st.conv;
  auto max_events = static_cast<uint64_t>(st.ctx->options.inbox_max_events);
  auto recalled = *message;
  recalled.recalled = true;
  recalled.body_json = "{}";
  commit_then(
      self,
      [=](Txn& txn) {
        appended->useqs.clear();
        appended->texts.clear();
        txn.put(keys::message(conv, seq), stored_message_json(recalled));
        auto event = recalled_event_members(conv, seq, by);
        for (auto member : *members) {
          std::string text;
          appended->useqs.push_back(append_inbox(txn, member, "recalled", event, max_events, &text));
          appended->texts.push_back(std::move(text));
        }
      },
      [self, rp, members, appended, seq](bool ok) mutable {
        auto& st = self->state;
        st.recalling.erase(seq);
        if (!ok) {
          rp.deliver(group_error(Error::unavailable, "could not store the recall"));
          return;
        }
        st.ctx->counters.inbox_appends += members->size();
        rp.deliver(GroupReply{});
        notify_members(*st.ctx, *members, *appended);
      });
  return rp;
}

}  // namespace im
