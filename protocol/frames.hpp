#pragma once
// Builders of server frames (PROTOCOL.md sections 4-7). Each returns the JSON object; callers
// serialize once with encode_frame() and share the bytes.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "protocol/errors.hpp"

namespace im::frames {

using json = nlohmann::json;

json auth_required(int64_t deadline_ms);
json auth_ok(uint64_t user, const std::string& device, uint64_t useq, int64_t heartbeat_ms,
             uint64_t next_cseq, bool gap);
// An error frame; `rid` and `cid` are echoed when present.
json error(Error code, const std::string& message, const std::optional<std::string>& rid = {},
           const std::optional<std::string>& cid = {});
json pong(int64_t ts_ms);
json kicked(const std::string& reason);
// Not an inbox event: the device's next events before useq `next` were dropped by retention
// (PROTOCOL.md section 6); sent before event `next`.
json gap(uint64_t next);
// Raw TCP's stand-in for a WebSocket close frame.
json close(int code, const std::string& reason);
// Unlike the builders above, returns the frame already serialized: there is one per send, on the
// actor thread's hot path. The text is what the JSON object with "rid" attached would dump to.
std::string send_ack(const std::string& cid, const std::string& conv, uint64_t seq, int64_t ts_ms,
                     const std::optional<std::string>& rid);

// Adds "rid" to a reply when the request carried one.
void attach_rid(json& reply, const std::optional<std::string>& rid);

}  // namespace im::frames
