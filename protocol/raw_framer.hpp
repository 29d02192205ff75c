#pragma once
// Transport detection and raw-TCP framing (PROTOCOL.md section 1): a 4-byte big-endian length N,
// 1 <= N <= max_frame_bytes, then N bytes of JSON.

#include <cstdint>
#include <string>
#include <string_view>

namespace im {

enum class Sniffed { need_more, http, raw_tcp };

// Looks at the first bytes of a connection. `need_more` while they are a proper prefix of an
// HTTP method token ("GET ", "POST ", ...); decides as soon as they cannot be.
Sniffed sniff_transport(std::string_view first_bytes);

enum class LengthStatus { ok, empty, too_large };

struct FrameLength {
  LengthStatus status = LengthStatus::ok;
  uint64_t length = 0;
};

// Interprets the 4-byte prefix. `empty` for N = 0, `too_large` above `max_frame_bytes`.
FrameLength parse_length_prefix(const unsigned char prefix[4], uint64_t max_frame_bytes);

// Prepends the 4-byte big-endian length to `payload`.
std::string length_prefixed(std::string_view payload);
// Appends the 4-byte big-endian length of `payload`, then `payload`, to `out`.
void append_length_prefixed(std::string& out, std::string_view payload);

}  // namespace im
