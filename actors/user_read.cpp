// Read cursors and recall (PROTOCOL.md section 7), the user actor's side. One-to-one
// conversations are handled here: this actor is the only writer of its user's one-to-one read
// cursors. Group conversations are the group actor's (group_reads.cpp, group_send.cpp): the
// request goes there and only a refusal comes back to the device. Success has no reply frame of
// its own: the `read` or `recalled` inbox event that every device of the caller gets is the answer.

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/group_messages.hpp"
#include "actors/inbox_writer.hpp"
#include "actors/user_state.hpp"
#include "protocol/frames.hpp"
#include "store/accounts.hpp"
#include "store/conversations.hpp"
#include "store/keys.hpp"

namespace im {

namespace {

using Rid = std::optional<std::string>;

// Asks the group actor; a refusal (or no answer) becomes an error frame for the device.
void ask_group(UserSelf* self, const std::string& device, const Rid& rid, GroupId group, caf::message request,
               int attempt = 0) {
  auto& st = self->state;
  auto target = st.ctx->directory.group(group);
  if (!target) {  // no group ever had this id: answered here, no actor spawned
    send_to_device(self, device, frames::error(Error::no_such_group, "no such group", rid));
    return;
  }
  self->request(target, std::chrono::milliseconds(st.ctx->options.group_timeout_ms), request)
      .then(
          [=](const GroupReply& reply) {
            if (reply.error) send_to_device(self, device, frames::error(*reply.error, reply.message, rid));
          },
          [=](caf::error& err) {
            if (attempt == 0 && err == caf::sec::request_receiver_down) {
              ask_group(self, device, rid, group, request, 1);
              return;
            }
            send_to_device(self, device, frames::error(Error::unavailable, "the group did not answer; try again", rid));
          });
}

// An error for the device from a store callback, which may run on any thread.
std::function<void(bool, const std::vector<uint64_t>&)> report_failure(UserSelf* self, const std::string& device,
                                                                         const Rid& rid, std::string what) {
  caf::actor connection;
  if (auto it = self->state.devices.find(device); it != self->state.devices.end()) connection = it->second.connection;
  auto user = self->state.user;
  return [connection, rid, what, user](bool ok, const std::vector<uint64_t>&) {
    if (ok) return;
    spdlog::debug("user {}: store write failed: {}", user, what);
    if (connection)
      caf::anon_send(connection, frame_atom::value,
                     SharedText(std::make_shared<const std::string>(
                         frames::error(Error::unavailable, "could not store the " + what, rid).dump())));
  };
}

uint64_t& direct_cursor(UserState& st, const Conv& conv) {
  auto [it, inserted] = st.read_cursors.try_emplace(conv.str(), 0);
  if (inserted) it->second = load_read_cursor(st.ctx->store, st.user, conv);
  return it->second;
}

}  // namespace

void on_read(UserSelf* self, const std::string& device, const ReadRequest& req, const Rid& rid) {
  auto& st = self->state;
  if (req.conv.is_group()) {
    ask_group(self, device, rid, req.conv.a, caf::make_message(group_read_atom::value, st.user, req.seq));
    return;
  }
  if (!req.conv.has_member(st.user)) {
    send_to_device(self, device, frames::error(Error::not_member, "not your conversation", rid));
    return;
  }
  // Forward only, and not beyond the newest message.
  auto target = std::min(req.seq, conversation_head(st.ctx->store, req.conv));
  auto& cursor = direct_cursor(st, req.conv);
  if (target <= cursor) return;
  cursor = target;
  auto conv = req.conv;
  auto user = st.user;
  auto event = read_event_members(conv, user, target);
  std::vector<InboxAppend> appends{{user, "read", event}, {conv.peer_of(user), "read", event}};
  append_events(*st.ctx, std::move(appends), report_failure(self, device, rid, "read cursor"),
                [user, conv, target](Txn& txn) { put_read_cursor(txn, user, conv, target); });
}

void on_recall(UserSelf* self, const std::string& device, const RecallRequest& req, const Rid& rid) {
  auto& st = self->state;
  if (req.conv.is_group()) {
    ask_group(self, device, rid, req.conv.a, caf::make_message(group_recall_atom::value, st.user, req.seq));
    return;
  }
  auto fail = [&](Error e, const std::string& why) { send_to_device(self, device, frames::error(e, why, rid)); };
  if (!req.conv.has_member(st.user)) return fail(Error::not_member, "not your conversation");
  auto message = load_message(st.ctx->store, req.conv, req.seq);
  if (!message) return fail(Error::not_found, "no such message");
  if (message->from != st.user) return fail(Error::forbidden, "only the sender may recall a message");
  auto key = req.conv.str() + "/" + std::to_string(req.seq);
  if (message->recalled) {  // done before: nothing more to tell anyone
    st.recalls_started.erase(key);
    return;
  }
  if (st.recalls_started.count(key)) return;  // being written
  if (now_ms() - message->ts > st.ctx->options.recall_window_ms)
    return fail(Error::recall_expired, "the recall window has passed");
  st.recalls_started[key] = true;
  auto recalled = *message;
  recalled.recalled = true;
  recalled.body_json = "{}";
  auto conv = req.conv;
  auto seq = req.seq;
  auto event = recalled_event_members(conv, seq, st.user);
  std::vector<InboxAppend> appends{{conv.a, "recalled", event}, {conv.b, "recalled", event}};
  append_events(*st.ctx, std::move(appends), report_failure(self, device, rid, "recall"),
                [conv, seq, recalled](Txn& txn) { txn.put(keys::message(conv, seq), stored_message_json(recalled)); });
}

}  // namespace im
