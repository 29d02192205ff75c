// Read cursors (PROTOCOL.md section 7). Not built yet.

#include "actors/user_state.hpp"
#include "protocol/frames.hpp"

namespace im {

void on_read(UserSelf* self, const std::string& device, const ReadRequest&, const std::optional<std::string>& rid) {
  send_to_device(self, device, frames::error(Error::bad_request, "read is not supported yet", rid));
}

void on_recall(UserSelf* self, const std::string& device, const RecallRequest&,
               const std::optional<std::string>& rid) {
  send_to_device(self, device, frames::error(Error::bad_request, "recall is not supported yet", rid));
}

}  // namespace im
