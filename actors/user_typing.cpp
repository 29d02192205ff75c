// Typing indicators (PROTOCOL.md section 7). Not built yet.

#include "actors/user_state.hpp"
#include "protocol/frames.hpp"

namespace im {

void on_typing(UserSelf* self, const std::string& device, const TypingRequest&,
               const std::optional<std::string>& rid) {
  send_to_device(self, device, frames::error(Error::bad_request, "typing is not supported yet", rid));
}

}  // namespace im
