#pragma once
// What every actor of one server shares: options, the store, accounts and the directory.
// Owned by Runtime, which outlives every actor.

#include <atomic>
#include <cstdint>

#include "protocol/options.hpp"
#include "store/accounts.hpp"
#include "store/store.hpp"

namespace caf {
class actor_system;
}

namespace im {

class Directory;

// Counters the metrics endpoint and the admin API read. Relaxed atomics: they are statistics.
struct Counters {
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_authed{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> messages_accepted{0};
  std::atomic<uint64_t> deliveries{0};
  std::atomic<uint64_t> retransmits{0};
  std::atomic<uint64_t> ack_timeouts{0};
  std::atomic<uint64_t> dedup_hits{0};
  std::atomic<uint64_t> reorder_holds{0};
  std::atomic<uint64_t> inbox_appends{0};
  std::atomic<uint64_t> actors_connection{0};
  std::atomic<uint64_t> actors_user{0};
  std::atomic<uint64_t> actors_group{0};
  std::atomic<uint64_t> accept_fd_exhausted{0};
};

struct Context {
  ServerOptions options;
  Store& store;
  Accounts& accounts;
  Directory& directory;
  Counters& counters;
  caf::actor_system& system;
};

}  // namespace im
