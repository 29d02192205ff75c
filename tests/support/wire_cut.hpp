#pragma once
// A frame cut short as its transport puts it on the wire, for tests that drop a connection inside
// a frame (crash_test, soak_test).

#include <cstdint>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "client/connection.hpp"
#include "support/raw_ws.hpp"

namespace imtest {

// Between 1 byte and all but the last byte of `frame` on the wire: a masked WebSocket text frame,
// or a raw TCP frame with its 4-byte length prefix (so the cut may fall inside the prefix).
inline std::string part_of_wire_frame(imclient::Transport transport, const nlohmann::json& frame,
                                      std::mt19937& rng) {
  auto text = frame.dump();
  std::string wire;
  if (transport == imclient::Transport::websocket) {
    wire = rawws::masked_frame(rawws::kText, text);
  } else {
    auto n = static_cast<uint32_t>(text.size());
    wire = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
    wire += text;
  }
  return wire.substr(0, std::uniform_int_distribution<size_t>(1, wire.size() - 1)(rng));
}

}  // namespace imtest
