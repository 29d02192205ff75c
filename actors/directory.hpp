#pragma once
// Finds the live actor of a user, spawning it on demand. Thread-safe: connection actors, user
// actors and HTTP handlers all go through it. Later the same lookup decides which node of a
// cluster is home to an id.

#include <mutex>
#include <optional>
#include <unordered_map>

#include <caf/actor.hpp>

#include "actors/connection_registry.hpp"
#include "protocol/ids.hpp"
#include "store/id_horizon.hpp"

namespace im {

struct Context;

class Directory {
 public:
  void bind(Context* context);

  // The user's actor, spawned if it is not live.
  caf::actor user(UserId user);
  // The user's actor if it is live; an invalid handle otherwise.
  caf::actor find_user(UserId user) const;
  // Called by a user actor that passivates. Only removes the entry if it is still `self`.
  void remove_user(UserId user, const caf::actor_addr& self);

  // The group's actor, spawned if it is not live; an invalid handle (and no actor) for an id that no
  // group ever had, so that a client naming random ids cannot make the server spawn actors. The
  // caller answers no_such_group then.
  caf::actor group(GroupId group);
  // Whether a group with this id was ever created. Group ids come from one counter, written in the
  // same atomic write as the group's record, and groups are never deleted (the last member leaving
  // keeps the record): every id up to the counter's published value exists. No store read.
  bool group_exists(GroupId group) const;
  // The group's actor if it is live; an invalid handle otherwise.
  caf::actor find_group(GroupId group) const;
  // Called by a group actor that passivates. Only removes the entry if it is still `self`.
  void remove_group(GroupId group, const caf::actor_addr& self);
  // Every live group actor, for shutdown.
  std::vector<caf::actor> all_groups() const;
  size_t live_groups() const;

  // How many devices the user has connected (kept by the user actor).
  void set_online_devices(UserId user, size_t devices);
  size_t online_devices(UserId user) const;
  size_t users_online() const;
  size_t live_users() const;

  // Every live user actor, for shutdown and admin fan-outs.
  std::vector<caf::actor> all_users() const;
  // Users with at least one connected device, ascending (admin notices to everyone online).
  std::vector<UserId> online_users() const;

  // Every live connection actor (admin API).
  ConnectionRegistry& connections() { return connections_; }

 private:
  Context* context_ = nullptr;
  std::optional<IdHorizon> groups_known_;  // group_exists(), set by bind
  mutable std::mutex mutex_;
  std::unordered_map<UserId, caf::actor> users_;
  std::unordered_map<UserId, size_t> online_;
  std::unordered_map<GroupId, caf::actor> groups_;
  ConnectionRegistry connections_;
};

}  // namespace im
