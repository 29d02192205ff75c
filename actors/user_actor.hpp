#pragma once
// One actor per user who is online or recently active (DESIGN.md). It holds the device table,
// each device's ACK window and retransmit timer, the per-device cseq reorder queue, the cid dedup
// cache and the inbox head; it appends to the inbox through the store and pushes to devices.
// Passivated after `user_idle_ms` without devices: its state is all on disk.
//
// Messages it handles:
//   (attach_atom, AttachRequest) -> AttachReply   a device authenticated
//   (detach_atom, device, connection)              that connection is gone
//   (send_atom, SendCommand)                       a client `send`
//   (ack_atom, device, useq)                       cumulative ACK
//   (sync_atom, device, since)                     replay after `since`
//   (appended_atom, useq, SharedText)              another actor appended to this inbox
//   (logout_atom, token_hash)                      kick the devices that used this token
//   (shutdown_atom)                                stop

#include <caf/fwd.hpp>

#include "protocol/ids.hpp"

namespace im {

struct Context;

caf::actor spawn_user_actor(Context& context, UserId user);

}  // namespace im
