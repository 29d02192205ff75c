#pragma once
// Group operations for the network layer (PROTOCOL.md section 3), with no CAF in sight. Each
// returns at once and calls `done` exactly once, from some other thread, when the outcome is
// known; the change is durable (and its `group` inbox events appended) before `done` runs.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocol/errors.hpp"
#include "protocol/ids.hpp"
#include "store/groups.hpp"

namespace im {

struct Context;

struct GroupOutcome {
  std::optional<Error> error;
  std::string message;               // why, with an error
  std::optional<GroupRecord> group;  // the group afterwards
};
using GroupDone = std::function<void(GroupOutcome)>;

// Creates a group owned by `owner`, whose members are `owner` and `members` (each must be a
// registered user: else no_such_user). Every member gets a `created` event. The caller has
// checked the name and the member limit.
void create_group(Context& context, UserId owner, std::string name, std::vector<UserId> members,
                  GroupDone done);
// The owner adds users (forbidden for anyone else; no_such_user for unknown ids; invalid beyond
// max_group_members). Every member, the new ones included, gets `joined` for each new one.
void add_group_members(Context& context, GroupId group, UserId by, std::vector<UserId> users, GroupDone done);
// The owner removes anyone, a member removes itself (`removed` / `left` to the remaining members
// and the one gone); anyone else is forbidden; not_found when `user` is not a member.
void remove_group_member(Context& context, GroupId group, UserId by, UserId user, GroupDone done);
// The group actor's admin snapshot (JSON text, see group_actor.hpp), or nullopt if it did not answer.
void inspect_group(Context& context, GroupId group, std::function<void(std::optional<std::string>)> done);

}  // namespace im
