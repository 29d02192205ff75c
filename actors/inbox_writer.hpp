#pragma once
// Appends events to users' inboxes in one atomic write, then tells each user's live actor so it
// pushes them to the user's devices. Usable from any thread (actors, HTTP handlers): it only
// writes through the store and sends asynchronous messages. No CAF in this header.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol/ids.hpp"

namespace im {

struct Context;
class Txn;

struct InboxAppend {
  UserId user = 0;
  std::string type;     // "msg", "read", "group", "friend", "notice", "recalled"
  std::string members;  // the event's members after "type" and "useq", without braces
};

// Called once the write is durable (or failed), with each append's useq in order.
using AppendDone = std::function<void(bool ok, const std::vector<uint64_t>& useqs)>;

// `extra` (optional) adds more puts to the same atomic write.
void append_events(Context& context, std::vector<InboxAppend> appends, AppendDone done = {},
                   std::function<void(Txn&)> extra = {});

// Tells the user's actor, if it is live, that `useq` was appended with `text`.
void notify_appended(Context& context, UserId user, uint64_t useq, std::string text);

}  // namespace im
