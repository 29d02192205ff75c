#pragma once
// One actor per client connection (PROTOCOL.md section 4). It owns the connection's protocol
// state: the auth deadline and reminders, idle detection, and forwarding of parsed frames to the
// user actor once authenticated. The rate limits are applied before a frame gets here, by the
// session (net/flood_guard.hpp). It never blocks and never touches the socket.
//
// Messages it handles:
//   (inbound_atom, Inbound)         a decoded client frame, from the session, counted in the
//                                   connection's Inflow (actors/inflow.hpp) until handled
//   (closed_atom)                   the session is gone; detach and quit
//   (frame_atom, SharedText)        a server frame (canonical JSON text) to send
//   (kick_atom, std::string)        send `kicked` with that reason, close 4004
//   (close_atom, int, std::string)  close with that code
//   (shutdown_atom)                 the server stops: close 1001

#include <chrono>
#include <memory>

#include <caf/fwd.hpp>

#include "actors/session.hpp"

namespace im {

struct Context;
class Inflow;

caf::actor spawn_connection_actor(Context& context, std::weak_ptr<Session> session,
                                  SessionInfo info, std::chrono::steady_clock::time_point accepted,
                                  bool announce_auth_required, std::shared_ptr<Inflow> inflow);

}  // namespace im
