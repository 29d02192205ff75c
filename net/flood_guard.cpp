#include "net/flood_guard.hpp"

#include "actors/context.hpp"
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

FloodGuard::Admission FloodGuard::admit(std::string_view bytes, Encoding encoding, Encoding reply_encoding,
                                        size_t max_nesting, size_t wire_bytes, Counters& counters) {
  Admission admission;
  auto now = Clock::now();
  if (!take_frame(now)) {
    counters.frames_in++;
    counters.bytes_in += wire_bytes;
    counters.frames_rate_limited++;
    admission.refusal = too_many_frames(reply_encoding);
    return admission;
  }
  admission.decoded = decode_frame(bytes, encoding, max_nesting);
  if (admission.decoded.status == DecodeStatus::ok && !take_send(admission.decoded.value, now)) {
    counters.frames_in++;
    counters.bytes_in += wire_bytes;
    counters.sends_rate_limited++;
    admission.refusal = too_many_sends(admission.decoded.value, reply_encoding);
  }
  return admission;
}

}  // namespace im::net
