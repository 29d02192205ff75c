#include "net/flood_guard.hpp"

#include "protocol/frames.hpp"
#include "protocol/requests.hpp"

namespace im::net {

bool FloodGuard::take_send(const nlohmann::json& frame, Clock::time_point now) {
  auto type = frame.find("type");
  if (type == frame.end() || !type->is_string() || type->get_ref<const std::string&>() != "send") return true;
  return sends_.try_take(now);
}

std::shared_ptr<const std::string> FloodGuard::too_many_frames(Encoding encoding) {
  static const auto json = std::make_shared<const std::string>(
      encode_frame(frames::error(Error::rate_limited, "too many frames"), Encoding::json));
  static const auto msgpack = std::make_shared<const std::string>(
      encode_frame(frames::error(Error::rate_limited, "too many frames"), Encoding::msgpack));
  return encoding == Encoding::msgpack ? msgpack : json;
}

std::shared_ptr<const std::string> FloodGuard::too_many_sends(const nlohmann::json& frame, Encoding encoding) {
  std::optional<std::string> cid;
  if (auto it = frame.find("cid"); it != frame.end() && it->is_string()) cid = it->get<std::string>();
  return std::make_shared<const std::string>(
      encode_frame(frames::error(Error::rate_limited, "too many sends", request_rid(frame), cid), encoding));
}

}  // namespace im::net
