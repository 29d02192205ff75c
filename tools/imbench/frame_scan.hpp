// What the scenarios read from a server frame, taken in one pass over its text without building a
// JSON document. imbench shares the machine's two cores with the server, and a DOM per push was
// half of the tool's CPU, CPU the server then did not get.
//
// The scan checks the whole text is one well-formed JSON object (strings and their UTF-8, numbers,
// nesting), so a damaged frame is still told apart; it keeps only what the scenarios check: a few
// top-level members and the integer members of the top-level "body" object. A repeated member
// counts once, the last one, as in a DOM. Where it reads differently from nlohmann's DOM: integers
// above INT64_MAX and numbers with a fraction or exponent (1.0) are not integers, and nesting
// deeper than 64 is refused.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace imbench {

struct Frame {
  // Top-level string members; empty when absent or not a string.
  std::string type, cid, code, conv;
  // Top-level non-negative integers; 0 when absent or not one.
  uint64_t useq = 0, from = 0;

  // The integer member `name` of the top-level "body" object, or `fallback`. Holds the first
  // kBodyInts integer members whose names are at most kBodyNameBytes long: the scenarios' bodies
  // ({"i":..,"t":..,"p":".."} and churn's {"l","c","i"}) fit.
  int64_t body_int(std::string_view name, int64_t fallback) const;

  static constexpr size_t kBodyInts = 6;
  static constexpr size_t kBodyNameBytes = 7;
  struct BodyInt {
    char name[kBodyNameBytes + 1];
    int64_t value;
  };
  std::array<BodyInt, kBodyInts> body_ints{};
  size_t body_int_count = 0;
};

// Fills `frame` from `text`. False if `text` is not exactly one JSON object (then `frame` holds
// whatever was read before the error).
bool scan_frame(std::string_view text, Frame& frame);

}  // namespace imbench
