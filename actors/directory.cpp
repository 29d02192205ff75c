#include "actors/directory.hpp"

#include <algorithm>

#include "actors/context.hpp"
#include "actors/user_actor.hpp"
#include "actors/group_actor.hpp"
#include "actors/messages.hpp"
#include "store/keys.hpp"

namespace im {

caf::actor Directory::user(UserId user) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = users_.find(user);
  if (it != users_.end()) return it->second;
  auto actor = spawn_user_actor(*context_, user);
  users_.emplace(user, actor);
  return actor;
}

caf::actor Directory::find_user(UserId user) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = users_.find(user);
  return it == users_.end() ? caf::actor() : it->second;
}

void Directory::remove_user(UserId user, const caf::actor_addr& self) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = users_.find(user);
  if (it != users_.end() && it->second.address() == self) users_.erase(it);
}

void Directory::bind(Context* context) {
  context_ = context;
  groups_known_.emplace(context->store, keys::counter_next_group_id());
}

bool Directory::group_exists(GroupId group) const { return groups_known_->covers(group); }

caf::actor Directory::group(GroupId group) {
  if (!group_exists(group)) return caf::actor();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = groups_.find(group);
  if (it != groups_.end()) return it->second;
  auto actor = spawn_group_actor(*context_, group);
  groups_.emplace(group, actor);
  return actor;
}

caf::actor Directory::find_group(GroupId group) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = groups_.find(group);
  return it == groups_.end() ? caf::actor() : it->second;
}

void Directory::remove_group(GroupId group, const caf::actor_addr& self) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = groups_.find(group);
  if (it != groups_.end() && it->second.address() == self) groups_.erase(it);
}

std::vector<caf::actor> Directory::all_groups() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<caf::actor> out;
  out.reserve(groups_.size());
  for (const auto& [id, actor] : groups_) out.push_back(actor);
  return out;
}

size_t Directory::live_groups() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return groups_.size();
}

void Directory::set_online_devices(UserId user, size_t devices) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (devices == 0) online_.erase(user);
  else online_[user] = devices;
}

size_t Directory::online_devices(UserId user) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = online_.find(user);
  return it == online_.end() ? 0 : it->second;
}

size_t Directory::users_online() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return online_.size();
}

size_t Directory::live_users() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return users_.size();
}

std::vector<caf::actor> Directory::all_users() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<caf::actor> out;
  out.reserve(users_.size());
  for (const auto& [id, actor] : users_) out.push_back(actor);
  return out;
}

std::vector<UserId> Directory::online_users() const {
  std::vector<UserId> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out.reserve(online_.size());
    for (const auto& [id, devices] : online_) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace im
