#include "protocol/raw_framer.hpp"

#include <array>

namespace im {

namespace {
constexpr std::array<std::string_view, 6> kMethods = {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ",
                                                      "OPTIONS "};
}

Sniffed sniff_transport(std::string_view first) {
  bool prefix_of_some = false;
  for (auto method : kMethods) {
    if (first.size() >= method.size()) {
      if (first.substr(0, method.size()) == method) return Sniffed::http;
    } else if (method.substr(0, first.size()) == first) {
      prefix_of_some = true;
    }
  }
  return prefix_of_some || first.empty() ? Sniffed::need_more : Sniffed::raw_tcp;
}

FrameLength parse_length_prefix(const unsigned char p[4], uint64_t max_frame_bytes) {
  FrameLength out;
  out.length = (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | p[3];
  if (out.length == 0) out.status = LengthStatus::empty;
  else if (out.length > max_frame_bytes) out.status = LengthStatus::too_large;
  return out;
}

std::string length_prefixed(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 4);
  append_length_prefixed(out, payload);
  return out;
}

void append_length_prefixed(std::string& out, std::string_view payload) {
  auto n = static_cast<uint32_t>(payload.size());
  const char prefix[4] = {static_cast<char>((n >> 24) & 0xFF), static_cast<char>((n >> 16) & 0xFF),
                          static_cast<char>((n >> 8) & 0xFF), static_cast<char>(n & 0xFF)};
  out.append(prefix, 4);
  out.append(payload);
}

}  // namespace im
