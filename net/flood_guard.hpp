#pragma once
// The per-connection rate limits of PROTOCOL.md section 5, applied by a session on its I/O thread,
// before the work they limit: a frame over --rate-frames-per-s is not decoded, and a send over
// --rate-sends-per-s is not handed to the connection actor. Each gets the error `rate_limited`
// as before (a send's with its cid and rid), written by the session itself; a WebSocket ping over
// the frame limit gets no pong. Both buckets allow bursts of twice their rate. A rate of 0 turns
// a limit off.
//
// The session's own error frames go to its bounded outbound queue (--send-queue-frames), so a
// flooder that does not read what it is sent is closed with 1008 like any client that does not
// read.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "actors/rate_limiter.hpp"
#include "protocol/codec.hpp"
#include "protocol/options.hpp"

namespace im {
struct Counters;
}

namespace im::net {

class FloodGuard {
 public:
  using Clock = std::chrono::steady_clock;

  explicit FloodGuard(const ServerOptions& options)
      : frames_(static_cast<double>(options.rate_frames_per_s), 2.0 * static_cast<double>(options.rate_frames_per_s)),
        sends_(static_cast<double>(options.rate_sends_per_s), 2.0 * static_cast<double>(options.rate_sends_per_s)) {}

  // A frame arrived (a WebSocket message or ping, a raw TCP frame): false when it is over the
  // frame rate.
  bool take_frame(Clock::time_point now) { return frames_.try_take(now); }
  // A decoded frame: false when it is a send over the send rate.
  bool take_send(const nlohmann::json& frame, Clock::time_point now);

  // One message off the wire, `wire_bytes` long, through both limits and the decoder (to
  // `max_nesting` levels, as `encoding`): either `refusal` is set (the encoded `rate_limited`
  // error, in `reply_encoding`; the message is counted in `counters` and dropped) or `decoded`
  // is what to hand on.
  struct Admission {
    Decoded decoded;
    std::shared_ptr<const std::string> refusal;
  };
  Admission admit(std::string_view bytes, Encoding encoding, Encoding reply_encoding, size_t max_nesting,
                  size_t wire_bytes, Counters& counters);

  // The error frame for a frame over the frame rate, encoded (shared; built once).
  static std::shared_ptr<const std::string> too_many_frames(Encoding encoding);
  // The error frame for a send over the send rate, with the send's rid and cid, encoded.
  static std::shared_ptr<const std::string> too_many_sends(const nlohmann::json& frame, Encoding encoding);

 private:
  TokenBucket frames_;
  TokenBucket sends_;
};

}  // namespace im::net
