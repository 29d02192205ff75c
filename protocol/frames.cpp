#include "protocol/frames.hpp"

namespace im::frames {

json auth_required(int64_t deadline_ms) {
  return {{"type", "auth_required"}, {"deadline_ms", deadline_ms < 0 ? 0 : deadline_ms}};
}

json auth_ok(uint64_t user, const std::string& device, uint64_t useq, int64_t heartbeat_ms,
             uint64_t next_cseq, bool gap) {
  return {{"type", "auth_ok"},       {"user", user},           {"device", device},
          {"useq", useq},           {"heartbeat_ms", heartbeat_ms}, {"next_cseq", next_cseq},
          {"gap", gap}};
}

json error(Error code, const std::string& message, const std::optional<std::string>& rid,
           const std::optional<std::string>& cid) {
  json j{{"type", "error"}, {"code", to_string(code)}, {"message", message}};
  if (cid) j["cid"] = *cid;
  attach_rid(j, rid);
  return j;
}

json pong(int64_t ts_ms) { return {{"type", "pong"}, {"ts", ts_ms}}; }

json kicked(const std::string& reason) { return {{"type", "kicked"}, {"reason", reason}}; }

json gap(uint64_t next) { return {{"type", "gap"}, {"next", next}}; }

json close(int code, const std::string& reason) {
  return {{"type", "close"}, {"code", code}, {"reason", reason}};
}

std::string send_ack(const std::string& cid, const std::string& conv, uint64_t seq, int64_t ts_ms,
                     const std::optional<std::string>& rid) {
  // Members in the order json's sorted object would write them.
  std::string out = "{\"cid\":" + json(cid).dump();
  out.append(",\"conv\":").append(json(conv).dump());
  if (rid) out.append(",\"rid\":").append(json(*rid).dump());
  out.append(",\"seq\":").append(std::to_string(seq));
  out.append(",\"ts\":").append(std::to_string(ts_ms));
  out.append(",\"type\":\"send_ack\"}");
  return out;
}

void attach_rid(json& reply, const std::optional<std::string>& rid) {
  if (rid) reply["rid"] = *rid;
}

}  // namespace im::frames
