// The user actor's side of a group send (PROTOCOL.md section 5). cseq reordering and the cid
// dedup lookup already happened in user_send.cpp; here the group actor is asked to write the
// message (membership check, seq, one atomic write with every member's inbox entry and this
// user's dedup record), and its answer becomes the send_ack of every waiter of the cid.

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/group_messages.hpp"
#include "actors/user_state.hpp"
#include "protocol/frames.hpp"

namespace im {

namespace {

void finish(UserSelf* self, const std::string& cid, const GroupReply& reply, Clock::time_point started) {
  auto& st = self->state;
  auto waiters = std::move(st.in_flight[cid]);
  st.in_flight.erase(cid);
  if (reply.error) {
    for (auto& w : waiters)
      send_to_device(self, w.device, frames::error(*reply.error, reply.message, w.rid, cid));
    return;
  }
  // Counted before the send_ack leaves: a client holding its send_ack finds it in /metrics.
  st.ctx->counters.send_ack.observe(Clock::now() - started);
  for (auto& w : waiters) {
    const auto& a = reply.answer;
    send_text_to_device(self, w.device, frames::send_ack(cid, a.conv, a.seq, a.ts, w.rid));
  }
}

// `device` and `cseq` are the sender's: a written send moves its device record (record_cseq_then).
void ask_group(UserSelf* self, GroupId group, GroupSendCommand cmd, const std::string& device,
               std::optional<uint64_t> cseq, Clock::time_point started, int attempt) {
  auto& st = self->state;
  auto target = st.ctx->directory.group(group);
  auto cid = cmd.cid;
  if (!target) {  // no group ever had this id: answered here, no actor spawned
    GroupReply reply;
    reply.error = Error::no_such_group;
    reply.message = "no such group";
    finish(self, cid, reply, started);
    return;
  }
  self->request(target, std::chrono::milliseconds(st.ctx->options.group_timeout_ms), group_send_atom::value, cmd)
      .then([=](const GroupReply& reply) {
              if (reply.error || !cseq) {
                finish(self, cid, reply, started);
                return;
              }
              record_cseq_then(self, device, *cseq, [=] { finish(self, cid, reply, started); });
            },
            [=](caf::error& err) {
              // The group actor may have passivated between lookup and request: look again.
              if (attempt == 0 && err == caf::sec::request_receiver_down) {
                ask_group(self, group, cmd, device, cseq, started, 1);
                return;
              }
              spdlog::warn("user {}: group {} did not take cid {}: {}", self->state.user, group, cid,
                           self->system().render(err));
              // Whether it was written is unknown: a resend of the cid gets the stored answer if so.
              GroupReply reply;
              reply.error = Error::unavailable;
              reply.message = "the group did not answer in time; send again with the same cid";
              finish(self, cid, reply, started);
            });
}

}  // namespace

void send_to_group(UserSelf* self, const std::string& device, SendCommand cmd, AckWaiter waiter) {
  auto& st = self->state;
  auto& req = cmd.request;
  GroupSendCommand group_cmd;
  group_cmd.from = st.user;
  group_cmd.cid = req.cid;
  group_cmd.body_json = std::move(req.body_json);
  st.in_flight[req.cid].push_back(std::move(waiter));
  ask_group(self, req.to.id, std::move(group_cmd), device, req.cseq, Clock::now(), 0);
}

}  // namespace im
