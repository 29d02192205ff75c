#pragma once
// Finds the live actor of a user, spawning it on demand. Thread-safe: connection actors, user
// actors and HTTP handlers all go through it. Later the same lookup decides which node of a
// cluster is home to an id.

#include <mutex>
#include <unordered_map>

#include <caf/actor.hpp>

#include "protocol/ids.hpp"

namespace im {

struct Context;

class Directory {
 public:
  void bind(Context* context) { context_ = context; }

  // The user's actor, spawned if it is not live.
  caf::actor user(UserId user);
  // The user's actor if it is live; an invalid handle otherwise.
  caf::actor find_user(UserId user) const;
  // Called by a user actor that passivates. Only removes the entry if it is still `self`.
  void remove_user(UserId user, const caf::actor_addr& self);

  // How many devices the user has connected (kept by the user actor).
  void set_online_devices(UserId user, size_t devices);
  size_t online_devices(UserId user) const;
  size_t users_online() const;
  size_t live_users() const;

  // Every live user actor, for shutdown and admin fan-outs.
  std::vector<caf::actor> all_users() const;

 private:
  Context* context_ = nullptr;
  mutable std::mutex mutex_;
  std::unordered_map<UserId, caf::actor> users_;
  std::unordered_map<UserId, size_t> online_;
};

}  // namespace im
