#pragma once
// What the connection and user actors tell the admin API about themselves (PROTOCOL.md section
// 8). The actors keep the raw facts; these functions turn them into JSON snapshots, so that each
// actor's own file only gains a counter or two and one handler. Private to actors/*.cpp.

#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

#include "actors/session.hpp"
#include "protocol/ids.hpp"

namespace im {

// Traffic of one connection, kept by its actor.
struct ConnectionStats {
  int64_t since_ms = 0;  // wall-clock time of accept, ms since the Unix epoch
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

// Who a connection is, as far as its actor knows. `user` is 0 and `device` empty until the
// connection authenticated.
struct ConnectionFacts {
  const SessionInfo& info;
  const ConnectionStats& stats;
  const char* state;  // "open", "authenticating", "authenticated", "closing"
  UserId user;
  const std::string& device;
  Encoding encoding;
};

// {"user","device","address","transport","encoding","since","frames_in","frames_out","bytes_in",
//  "bytes_out","state"}; user/device are null before auth. `unacked` is added by the admin API
// from the user actor, which owns the ACK window.
std::string connection_snapshot(const ConnectionFacts& facts);

struct UserState;
using UserActorSelf = caf::stateful_actor<UserState>;

// {"user","online","useq","devices":[{"device","cursor","cursor_stored","unacked","next_cseq",
//  "held","sent","retries"}],"dedup_entries","in_flight","cached_events","mailbox","live":true}
std::string user_snapshot(UserActorSelf* self);

// Sends `kicked` (reason "admin") and close 4004 to the user's connection of `device`, or of every
// device when `device` is empty. Returns how many connections were kicked.
uint64_t admin_kick(UserActorSelf* self, const std::string& device);

}  // namespace im
