#pragma once
// Nesting depth of untrusted input, measured without recursion, before anything that recurses
// (nlohmann's MessagePack reader, dump(), copies, comparisons) sees it. PROTOCOL.md section 1:
// input nested deeper than max_nesting levels of arrays and objects is refused.
//
// Depth counts containers: a scalar is 0, `{}` and `[]` are 1, `{"a":[1]}` is 2.

#include <cstddef>
#include <string_view>
#include <vector>

namespace im {

// The deepest nesting of `[`/`{` in JSON text, ignoring brackets inside strings. Stops reading
// once the depth passes `limit` and then returns limit + 1. For text that is not JSON the result
// is some number; the parser rejects such text anyway.
size_t json_nesting(std::string_view text, size_t limit);

enum class MsgpackScan { ok, too_deep, malformed };

// Walks `bytes` as exactly one MessagePack value with an explicit counter per open container:
// `malformed` when a length or element count reaches past the end of the bytes, the value ends
// before the bytes do, or a byte is the never-used type 0xc1; `too_deep` as soon as an array or
// map would open at depth limit + 1. `ok` promises nothing else (map keys may be non-strings,
// strings invalid UTF-8): the decoder still checks the value. `holds_binary` (optional) is set when
// the bytes hold a bin or ext value, which has no JSON form.
MsgpackScan scan_msgpack(std::string_view bytes, size_t limit, bool* holds_binary = nullptr);

// The nesting depth of an already-parsed value (for callers that build JSON themselves and for
// tests), without recursion.
template <class Json>
size_t value_nesting(const Json& value) {
  if (!value.is_structured()) return 0;
  struct Item { const Json* v; size_t depth; };
  size_t deepest = 0;
  std::vector<Item> stack{Item{&value, 1}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > deepest) deepest = depth;
    for (const auto& child : *v)
      if (child.is_structured()) stack.push_back({&child, depth + 1});
  }
  return deepest;
}

}  // namespace im
