#pragma once
// Every live connection actor, so that the admin API can ask each of them about itself.
// A connection actor joins when it is spawned and leaves in its state's destructor (which CAF
// runs when the actor exits), so the registry never keeps a finished actor's entry. Thread-safe.

#include <mutex>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>

namespace im {

class ConnectionRegistry {
 public:
  void join(const caf::actor& connection) {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.emplace(connection.id(), connection);
  }
  void leave(caf::actor_id id) {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.erase(id);
  }
  std::vector<caf::actor> all() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<caf::actor> out;
    out.reserve(connections_.size());
    for (const auto& entry : connections_) out.push_back(entry.second);
    return out;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return connections_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<caf::actor_id, caf::actor> connections_;
};

}  // namespace im
