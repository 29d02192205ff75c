#pragma once
// Group records and the user -> group index (PROTOCOL.md section 3), over Store. Reads are plain
// functions; writes are helpers for a Store::commit build function, so that a membership change
// and the inbox events announcing it land in one atomic write.
//
// ON-DISK FORMAT: keys::group(gid) -> {"name","owner","members":[ascending uids],"created_ms"};
// keys::user_group(uid, gid) -> "" for every member.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/ids.hpp"
#include "store/store.hpp"

namespace im {

struct GroupRecord {
  GroupId id = 0;
  std::string name;
  UserId owner = 0;              // 0 once the last member left
  std::vector<UserId> members;   // ascending, no duplicates
  int64_t created_ms = 0;

  bool has_member(UserId user) const;
  // Adds (keeping the order) and returns whether it was new.
  bool add_member(UserId user);
  // Removes and returns whether it was there.
  bool remove_member(UserId user);
  // The stored form.
  std::string to_store_json() const;
  // The HTTP form: {group, name, owner, members}.
  nlohmann::json to_api_json() const;
};

// The group if it exists and its record parses.
std::optional<GroupRecord> load_group(const Store& store, GroupId group);
// Writes the record (not the index: see put_membership).
void put_group(Txn& txn, const GroupRecord& record);

// The index of a user's groups.
void put_membership(Txn& txn, UserId user, GroupId group);
void del_membership(Txn& txn, UserId user, GroupId group);
bool is_group_member(const Store& store, UserId user, GroupId group);
// The user's groups, ascending.
std::vector<GroupId> groups_of(const Store& store, UserId user);

// The members of a `group` inbox event after "type" and "useq":
// "group":G,"event":"<event>","user":U
std::string group_event_members(GroupId group, const char* event, UserId user);

}  // namespace im
