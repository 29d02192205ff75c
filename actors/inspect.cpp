#include "actors/inspect.hpp"

#include <nlohmann/json.hpp>

#include "actors/user_state.hpp"

namespace im {

using json = nlohmann::json;

std::string connection_snapshot(const ConnectionFacts& facts) {
  json out;
  out["user"] = facts.user ? json(facts.user) : json(nullptr);
  out["device"] = facts.device.empty() ? json(nullptr) : json(facts.device);
  out["address"] = facts.info.address;
  out["transport"] = facts.info.transport;
  out["encoding"] = facts.encoding == Encoding::msgpack ? "msgpack" : "json";
  out["since"] = facts.stats.since_ms;
  out["frames_in"] = facts.stats.frames_in;
  out["frames_out"] = facts.stats.frames_out;
  out["bytes_in"] = facts.stats.bytes_in;
  out["bytes_out"] = facts.stats.bytes_out;
  out["state"] = facts.state;
  return out.dump();
}

std::string user_snapshot(UserActorSelf* self) {
  auto& st = self->state;
  json devices = json::array();
  for (const auto& [name, dev] : st.devices) {
    devices.push_back({{"device", name},
                       {"cursor", dev.cursor},
                       {"cursor_stored", dev.cursor_stored},
                       {"unacked", dev.sent - dev.cursor},
                       {"next_cseq", dev.next_cseq},
                       {"held", dev.reorder.held.size()},
                       {"sent", dev.sent},
                       {"retries", dev.retries}});
  }
  json out{{"user", st.user},
           {"online", !st.devices.empty()},
           {"useq", st.head},
           {"devices", std::move(devices)},
           {"dedup_entries", st.ctx->dedup_index.cids(st.user)},
           {"in_flight", st.in_flight.size()},
           {"cached_events", st.recent.size()},
           {"mailbox", self->mailbox().size()},
           {"live", true}};
  return out.dump();
}

uint64_t admin_kick(UserActorSelf* self, const std::string& device) {
  uint64_t kicked = 0;
  for (const auto& [name, dev] : self->state.devices) {
    if (!device.empty() && name != device) continue;
    self->send(dev.connection, kick_atom::value, std::string("admin"));
    ++kicked;
  }
  return kicked;
}

}  // namespace im
