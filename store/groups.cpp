#include "store/groups.hpp"

#include <algorithm>

#include "store/keys.hpp"

namespace im {

using json = nlohmann::json;

bool GroupRecord::has_member(UserId user) const {
  return std::binary_search(members.begin(), members.end(), user);
}

bool GroupRecord::add_member(UserId user) {
  auto it = std::lower_bound(members.begin(), members.end(), user);
  if (it != members.end() && *it == user) return false;
  members.insert(it, user);
  return true;
}

bool GroupRecord::remove_member(UserId user) {
  auto it = std::lower_bound(members.begin(), members.end(), user);
  if (it == members.end() || *it != user) return false;
  members.erase(it);
  return true;
}

std::string GroupRecord::to_store_json() const {
  return json{{"name", name}, {"owner", owner}, {"members", members}, {"created_ms", created_ms}}.dump();
}

json GroupRecord::to_api_json() const {
  return json{{"group", id}, {"name", name}, {"owner", owner}, {"members", members}};
}

std::optional<GroupRecord> load_group(const Store& store, GroupId group) {
  std::string value;
  if (!store.get(keys::group(group), &value)) return std::nullopt;
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  GroupRecord r;
  r.id = group;
  r.name = j.value("name", std::string());
  r.owner = j.value("owner", UserId{0});
  r.created_ms = j.value("created_ms", int64_t{0});
  auto members = j.find("members");
  if (members != j.end() && members->is_array())
    for (const auto& m : *members)
      if (m.is_number_unsigned()) r.members.push_back(m.get<UserId>());
  std::sort(r.members.begin(), r.members.end());
  r.members.erase(std::unique(r.members.begin(), r.members.end()), r.members.end());
  return r;
}

void put_group(Txn& txn, const GroupRecord& record) {
  txn.put(keys::group(record.id), record.to_store_json());
}

void put_membership(Txn& txn, UserId user, GroupId group) { txn.put(keys::user_group(user, group), ""); }

void del_membership(Txn& txn, UserId user, GroupId group) { txn.del(keys::user_group(user, group)); }

bool is_group_member(const Store& store, UserId user, GroupId group) {
  std::string ignored;
  return store.get(keys::user_group(user, group), &ignored);
}

std::vector<GroupId> groups_of(const Store& store, UserId user) {
  std::vector<GroupId> out;
  auto prefix = keys::user_group_prefix(user);
  store.scan(prefix, keys::prefix_end(prefix), false, [&](std::string_view key, std::string_view) {
    if (key.size() >= prefix.size() + 8) out.push_back(keys::get_u64(key.substr(prefix.size())));
    return true;
  });
  return out;
}

std::string group_event_members(GroupId group, const char* event, UserId user) {
  std::string m;
  m.append("\"group\":").append(std::to_string(group));
  m.append(",\"event\":\"").append(event).append("\",\"user\":").append(std::to_string(user));
  return m;
}

}  // namespace im
