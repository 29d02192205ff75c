// Client requests other than send/ack/sync that the connection actor forwards to the user actor
// (PROTOCOL.md section 7): validated here, then handed to the function of each feature.

#include "actors/user_state.hpp"
#include "protocol/frames.hpp"

namespace im {

void on_client_request(UserSelf* self, const std::string& device, const SharedText& frame_text) {
  auto frame = nlohmann::json::parse(*frame_text, nullptr, false);
  if (frame.is_discarded() || !frame.is_object()) return;
  auto rid = request_rid(frame);
  auto type = request_type(frame.value("type", std::string()));
  auto fail = [&](Error e, const std::string& why) { send_to_device(self, device, frames::error(e, why, rid)); };
  switch (type) {
    case RequestType::read: {
      auto parsed = parse_read(frame);
      if (!parsed) return fail(parsed.error, parsed.message);
      return on_read(self, device, *parsed.value, rid);
    }
    case RequestType::recall: {
      auto parsed = parse_recall(frame);
      if (!parsed) return fail(parsed.error, parsed.message);
      return on_recall(self, device, *parsed.value, rid);
    }
    case RequestType::typing: {
      auto parsed = parse_typing(frame);
      if (!parsed) return fail(parsed.error, parsed.message);
      return on_typing(self, device, *parsed.value, rid);
    }
    default:
      return fail(Error::unknown_type, "unknown type");
  }
}

}  // namespace im
