#pragma once
// Private to the group actor's translation units.

#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include "actors/context.hpp"
#include "actors/group_messages.hpp"
#include "store/conversations.hpp"
#include "store/groups.hpp"

namespace im {

struct GroupState {
  static inline const char* name = "group";

  Context* ctx = nullptr;
  GroupId gid = 0;
  Conv conv;
  bool exists = false;  // the record was found; until then every request is re-checked
  GroupRecord record;   // as of the last write handed to the store (writes apply in order)
  uint64_t head = 0;    // newest durable seq
  ReadCounts reads;     // members' cursors, as of the last write handed to the store
  // Senders of the newest `read_count_window` messages: whose devices get read_count pushes.
  std::map<uint64_t, UserId> recent_senders;
  // Messages whose read count may have changed since the last flush, and what was last pushed.
  std::set<uint64_t> dirty;
  std::map<uint64_t, uint64_t> pushed_counts;
  std::chrono::steady_clock::time_point last_flush{};
  bool flush_armed = false;
  std::set<uint64_t> recalling;  // recalls whose write is in flight
  // Sends (from, cid) whose write is in flight, with the requests of resends waiting for its answer.
  std::map<std::pair<UserId, std::string>, std::vector<caf::response_promise>> sends_in_flight;
  size_t writes_in_flight = 0;
  std::chrono::steady_clock::time_point last_active{};

  ~GroupState() {
    if (ctx) ctx->counters.actors_group--;
  }
};

using GroupSelf = caf::stateful_actor<GroupState>;

// Runs `build` as one atomic store write, then `then(ok)` inside the actor.
void commit_then(GroupSelf* self, Store::Build build, std::function<void(bool ok)> then, CommitHints hints = {});
// Reloads record, head and cursors from the store (at start, and after a failed write).
void load_group_state(GroupSelf* self);
void schedule_passivation(GroupSelf* self);

// Messages (group_send.cpp).
caf::response_promise on_group_send(GroupSelf* self, GroupSendCommand& cmd);
caf::response_promise on_group_recall(GroupSelf* self, UserId by, uint64_t seq);
void remember_sender(GroupSelf* self, uint64_t seq, UserId from);

// Read cursors and read counts (group_reads.cpp).
caf::response_promise on_group_read(GroupSelf* self, UserId reader, uint64_t seq);
void on_flush(GroupSelf* self);
// `member`, whose read cursor is `cursor`, joined or left: the counts of the recent messages up to
// `cursor` that others sent change by one, and their senders get `read_count` at the next flush.
void note_membership_read_change(GroupSelf* self, UserId member, uint64_t cursor);

// Membership (group_members.cpp).
caf::response_promise on_group_add(GroupSelf* self, UserId by, std::vector<UserId> users);
caf::response_promise on_group_remove(GroupSelf* self, UserId by, UserId user);

// A GroupReply carrying only an error.
GroupReply group_error(Error code, std::string message);

}  // namespace im
