// The group actor's life: loading its state, the behavior, store writes that resume inside the
// actor, passivation, and the admin snapshot.

#include "actors/group_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/group_state.hpp"
#include "store/keys.hpp"

namespace im {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

std::string inspect(GroupSelf* self) {
  auto& st = self->state;
  json cursors = json::object();
  for (const auto& [member, cursor] : st.reads.by_member()) cursors[std::to_string(member)] = cursor;
  return json{{"group", st.gid},
              {"name", st.record.name},
              {"owner", st.record.owner},
              {"members", st.record.members},
              {"seq", st.head},
              {"read_cursors", cursors}}
      .dump();
}

// Every request starts here: it marks the group as in use, and refuses the request (answering
// no_such_group) when the group does not exist. A missing group is looked up again each time,
// since it may have been created after this actor was spawned.
std::optional<caf::response_promise> refuse_if_missing(GroupSelf* self) {
  self->state.last_active = Clock::now();
  if (!self->state.exists) load_group_state(self);
  if (self->state.exists) return std::nullopt;
  auto rp = self->make_response_promise();
  rp.deliver(group_error(Error::no_such_group, "no such group"));
  return rp;
}

caf::behavior group_actor(GroupSelf* self, Context* ctx, GroupId gid) {
  auto& st = self->state;
  st.ctx = ctx;
  st.gid = gid;
  st.conv = Conv::group(gid);
  ctx->counters.actors_group++;
  st.last_active = Clock::now();
  load_group_state(self);
  schedule_passivation(self);
  return {
      [=](group_send_atom, GroupSendCommand& cmd) -> caf::response_promise {
        if (auto refused = refuse_if_missing(self)) return *refused;
        return on_group_send(self, cmd);
      },
      [=](group_read_atom, UserId reader, uint64_t seq) -> caf::response_promise {
        if (auto refused = refuse_if_missing(self)) return *refused;
        return on_group_read(self, reader, seq);
      },
      [=](group_recall_atom, UserId by, uint64_t seq) -> caf::response_promise {
        if (auto refused = refuse_if_missing(self)) return *refused;
        return on_group_recall(self, by, seq);
      },
      [=](group_add_atom, UserId by, std::vector<UserId>& users) -> caf::response_promise {
        if (auto refused = refuse_if_missing(self)) return *refused;
        return on_group_add(self, by, std::move(users));
      },
      [=](group_remove_atom, UserId by, UserId user) -> caf::response_promise {
        if (auto refused = refuse_if_missing(self)) return *refused;
        return on_group_remove(self, by, user);
      },
      [=](inspect_atom) -> std::string {
        if (!self->state.exists) load_group_state(self);
        return self->state.exists ? inspect(self) : std::string();
      },
      [=](group_committed_atom, bool ok, const GroupContinuation& then) {
        self->state.writes_in_flight--;
        (*then)(ok);
      },
      [=](group_flush_atom) {
        self->state.flush_armed = false;
        on_flush(self);
      },
      [=](group_idle_atom) {
        auto& st = self->state;
        auto idle_for = Clock::now() - st.last_active;
        if (st.writes_in_flight > 0 || st.flush_armed || !st.recalling.empty() ||
            idle_for < std::chrono::milliseconds(st.ctx->options.group_idle_ms)) {
          schedule_passivation(self);
          return;
        }
        st.ctx->directory.remove_group(st.gid, self->address());
        self->quit();
      },
      [=](shutdown_atom) { self->quit(); },
  };
}

}  // namespace

GroupReply group_error(Error code, std::string message) {
  GroupReply reply;
  reply.error = code;
  reply.message = std::move(message);
  return reply;
}

void commit_then(GroupSelf* self, Store::Build build, std::function<void(bool ok)> then, CommitHints hints) {
  self->state.writes_in_flight++;
  auto continuation = std::make_shared<std::function<void(bool)>>(std::move(then));
  self->state.ctx->store.commit(
      std::move(build),
      [me = caf::actor_cast<caf::actor>(self), continuation](bool ok) {
        caf::anon_send(me, group_committed_atom::value, ok, GroupContinuation(continuation));
      },
      std::move(hints));
}

void load_group_state(GroupSelf* self) {
  auto& st = self->state;
  auto& store = st.ctx->store;
  auto record = load_group(store, st.gid);
  st.exists = record.has_value();
  st.record = record ? std::move(*record) : GroupRecord{};
  st.record.id = st.gid;
  st.head = conversation_head(store, st.conv);
  st.reads = load_read_counts(store, st.gid, st.record.members);
  st.recent_senders.clear();
  auto window = static_cast<size_t>(std::max<int64_t>(0, st.ctx->options.read_count_window));
  for (const auto& [seq, from] : recent_senders(store, st.conv, window)) st.recent_senders[seq] = from;
}

// Arms the idle check. A check that finds the group used within the last group_idle_ms, or with
// work pending, arms it again: one timer per group, not one per request.
void schedule_passivation(GroupSelf* self) {
  self->delayed_send(self, std::chrono::milliseconds(self->state.ctx->options.group_idle_ms),
                     group_idle_atom::value);
}

caf::actor spawn_group_actor(Context& context, GroupId group) {
  return context.system.spawn(group_actor, &context, group);
}

}  // namespace im
