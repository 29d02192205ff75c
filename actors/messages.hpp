#pragma once
// All atoms and message types the actors exchange. Include only from actors/*.cpp: CAF headers
// stay out of every header the net layer sees.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/outlet.hpp"
#include "actors/session.hpp"
#include "protocol/requests.hpp"

namespace im {

// Connection actor, from the session and the runtime.
using inbound_atom = caf::atom_constant<caf::atom("inbound")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using auth_tick_atom = caf::atom_constant<caf::atom("authtick")>;
using idle_tick_atom = caf::atom_constant<caf::atom("idletick")>;
// To a connection actor from its user actor.
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using kick_atom = caf::atom_constant<caf::atom("kick")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
// To a user actor.
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using send_atom = caf::atom_constant<caf::atom("send")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using appended_atom = caf::atom_constant<caf::atom("appended")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using retry_tick_atom = caf::atom_constant<caf::atom("retrytick")>;
using reorder_tick_atom = caf::atom_constant<caf::atom("reordtick")>;
using idle_check_atom = caf::atom_constant<caf::atom("idlecheck")>;
using cursor_flush_atom = caf::atom_constant<caf::atom("curflush")>;
// (user_written_atom, bool ok, GroupContinuation) from the commit thread: a write the user actor
// waits for landed (write_then, user_delivery.cpp).
using user_written_atom = caf::atom_constant<caf::atom("uwritten")>;
using logout_atom = caf::atom_constant<caf::atom("logout")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
// (live_push_atom, SharedText frame JSON) to a user actor: send this not-stored frame (presence,
// typing) to every connected device; dropped when none is connected.
using live_push_atom = caf::atom_constant<caf::atom("livepush")>;
// Admin API (actors/inspect.cpp). (inspect_atom) -> std::string, a JSON snapshot, to connection and
// user actors; (admin_kick_atom, device) -> uint64_t kicked, to a user actor ("" = every device).
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using admin_kick_atom = caf::atom_constant<caf::atom("adminkick")>;

using SharedText = std::shared_ptr<const std::string>;

// Sent by a connection actor to its user actor after the token checked out.
struct AttachRequest {
  std::string device;
  std::string token_hash;
  std::optional<uint64_t> since;
  caf::actor connection;
  std::shared_ptr<Outlet> outlet;  // the socket, for pushes (actors/outlet.hpp)
};

// The user actor's answer: auth_ok's fields, or the error that refuses the device.
struct AttachReply {
  std::optional<Error> error;
  uint64_t useq = 0;
  uint64_t next_cseq = 1;
  bool gap = false;
};

struct SendCommand {
  std::string device;
  SendRequest request;
  std::optional<std::string> rid;
};

// A work item whose store write finished; the user actor resumes it on `committed_atom`.
struct CommitOutcome;
using CommitOutcomePtr = std::shared_ptr<CommitOutcome>;

}  // namespace im

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::Inbound)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::SharedText)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::AttachRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::AttachReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::SendCommand)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::CommitOutcomePtr)
