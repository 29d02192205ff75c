#pragma once
// One actor per active group (DESIGN.md). It is the group's only writer: it assigns `seq`, stores
// each group message once together with every member's inbox entry, changes membership, and
// holds the members' read cursors sorted, so that a read count is a binary search. Found or
// spawned through the Directory; passivated after `group_idle_ms` without work (its state is all
// on disk).
//
// Requests it answers, each with a GroupReply (error set on refusal):
//   (group_send_atom, GroupSendCommand)              a member's message -> answer {conv, seq, ts}
//   (group_read_atom, UserId reader, uint64_t seq)   moves the reader's cursor forward
//   (group_recall_atom, UserId by, uint64_t seq)     recalls a message of `by`
//   (group_add_atom, UserId by, std::vector<UserId>) the owner adds members -> group
//   (group_remove_atom, UserId by, UserId user)      removal or leave -> group
//   (inspect_atom) -> std::string                    admin snapshot {group, name, owner, members,
//                                                    seq, read_cursors: {user: seq}}; "" if no such group

#include <caf/fwd.hpp>

#include "protocol/ids.hpp"

namespace im {

struct Context;

caf::actor spawn_group_actor(Context& context, GroupId group);

}  // namespace im
