// Membership changes (PROTOCOL.md sections 3 and 6): the owner adds members; the owner removes
// anyone, a member removes itself. The new record, the user -> group index and the `group`
// inbox events are one atomic write.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/group_state.hpp"
#include "actors/inbox_writer.hpp"
#include "store/inbox.hpp"
#include "store/social.hpp"

namespace im {

namespace {

struct MembershipWrite {
  std::vector<InboxAppend> events;
  std::vector<uint64_t> useqs;
  std::vector<std::string> texts;
};

// Writes `record` with the index changes and events, then answers with the group.
void write_membership(GroupSelf* self, caf::response_promise rp, GroupRecord record,
                      std::vector<UserId> joined, std::vector<UserId> gone, std::vector<InboxAppend> events) {
  auto& st = self->state;
  auto write = std::make_shared<MembershipWrite>();
  write->events = std::move(events);
  auto max_events = static_cast<uint64_t>(st.ctx->options.inbox_max_events);
  auto gid = st.gid;
  commit_then(
      self,
      [=](Txn& txn) {
        write->useqs.clear();
        write->texts.clear();
        put_group(txn, record);
        for (auto u : joined) put_membership(txn, u, gid);
        for (auto u : gone) del_membership(txn, u, gid);
        for (const auto& e : write->events) {
          std::string text;
          write->useqs.push_back(append_inbox(txn, e.user, e.type.c_str(), e.members, max_events, &text));
          write->texts.push_back(std::move(text));
        }
      },
      [self, rp, record, write](bool ok) mutable {
        auto& st = self->state;
        if (!ok) {
          spdlog::debug("group {}: store write failed for a membership change", st.gid);
          load_group_state(self);
          rp.deliver(group_error(Error::unavailable, "could not store the change"));
          return;
        }
        st.ctx->counters.inbox_appends += write->events.size();
        GroupReply reply;
        reply.group = record;
        rp.deliver(std::move(reply));
        for (size_t i = 0; i < write->events.size(); ++i)
          notify_appended(*st.ctx, write->events[i].user, write->useqs[i], std::move(write->texts[i]));
      });
}

}  // namespace

caf::response_promise on_group_add(GroupSelf* self, UserId by, std::vector<UserId> users) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (by != st.record.owner) {
    rp.deliver(group_error(Error::forbidden, "only the owner adds members"));
    return rp;
  }
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  std::vector<UserId> joined;
  for (auto u : users) {
    if (!st.ctx->accounts.exists(u)) {
      rp.deliver(group_error(Error::no_such_user, "no such user: " + std::to_string(u)));
      return rp;
    }
    if (st.record.has_member(u)) continue;
    // Consent: nobody is added by a user they blocked (the whole request is refused).
    if (is_blocked(st.ctx->store, u, by)) {
      rp.deliver(group_error(Error::blocked, "user " + std::to_string(u) + " blocked you"));
      return rp;
    }
    joined.push_back(u);
  }
  if (st.record.members.size() + joined.size() > static_cast<size_t>(st.ctx->options.max_group_members)) {
    rp.deliver(group_error(Error::invalid, "a group has at most " + std::to_string(st.ctx->options.max_group_members) +
                                               " members"));
    return rp;
  }
  if (joined.empty()) {
    GroupReply reply;
    reply.group = st.record;
    rp.deliver(std::move(reply));
    return rp;
  }
  // A member who comes back finds the cursor it left with.
  for (auto u : joined) {
    st.record.add_member(u);
    auto cursor = load_read_cursor(st.ctx->store, u, st.conv);
    st.reads.set(u, cursor);
    note_membership_read_change(self, u, cursor);
  }
  std::vector<InboxAppend> events;
  for (auto u : joined) {
    auto members = group_event_members(st.gid, "joined", u);
    for (auto m : st.record.members) events.push_back(InboxAppend{m, "group", members});
  }
  write_membership(self, rp, st.record, std::move(joined), {}, std::move(events));
  return rp;
}

caf::response_promise on_group_remove(GroupSelf* self, UserId by, UserId user) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (by != st.record.owner && by != user) {
    rp.deliver(group_error(Error::forbidden, "only the owner removes other members"));
    return rp;
  }
  if (!st.record.remove_member(user)) {
    rp.deliver(group_error(Error::not_found, "not a member of this group"));
    return rp;
  }
  // An owner who leaves hands the group to the longest-registered remaining member.
  if (user == st.record.owner) st.record.owner = st.record.members.empty() ? 0 : st.record.members.front();
  auto cursor = st.reads.cursor_of(user);
  st.reads.erase(user);
  note_membership_read_change(self, user, cursor);
  auto members = group_event_members(st.gid, by == user ? "left" : "removed", user);
  std::vector<InboxAppend> events;
  for (auto m : st.record.members) events.push_back(InboxAppend{m, "group", members});
  events.push_back(InboxAppend{user, "group", members});
  write_membership(self, rp, st.record, {}, {user}, std::move(events));
  return rp;
}

}  // namespace im
