#pragma once
// Atoms and message types of group actors (actors/group_actor.hpp lists who sends what). Kept
// apart from messages.hpp, which it extends; include only from actors/*.cpp.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "store/groups.hpp"
#include "store/inbox.hpp"

namespace im {

// Requests to a group actor; each answers a GroupReply.
using group_send_atom = caf::atom_constant<caf::atom("grpsend")>;
using group_read_atom = caf::atom_constant<caf::atom("grpread")>;
using group_recall_atom = caf::atom_constant<caf::atom("grprecall")>;
using group_add_atom = caf::atom_constant<caf::atom("grpadd")>;
using group_remove_atom = caf::atom_constant<caf::atom("grpremove")>;
// Internal to a group actor.
using group_committed_atom = caf::atom_constant<caf::atom("grpcommit")>;
using group_flush_atom = caf::atom_constant<caf::atom("grpflush")>;
using group_idle_atom = caf::atom_constant<caf::atom("grpidle")>;

// A member's message for the group. The group actor stores it, fans it out and writes the
// sender's dedup record in the same atomic write. It never writes the sender's device record:
// the user actor is that record's only writer (user_group_send.cpp).
struct GroupSendCommand {
  UserId from = 0;
  std::string cid;
  std::string body_json;
};

// The answer to every group request: an error, or what the request produced.
struct GroupReply {
  std::optional<Error> error;
  std::string message;                 // why, with an error
  DedupRecord answer;                  // group_send: {conv, seq, ts}
  std::optional<GroupRecord> group;    // membership changes: the group afterwards
};

// Resumes work inside the group actor once its store write finished (the argument: ok).
using GroupContinuation = std::shared_ptr<std::function<void(bool)>>;

}  // namespace im

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::GroupSendCommand)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::GroupReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(im::GroupContinuation)
