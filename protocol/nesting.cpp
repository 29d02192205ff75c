#include "protocol/nesting.hpp"

#include <cstdint>

namespace im {

size_t json_nesting(std::string_view text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return limit + 1;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

namespace {

uint64_t read_be(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

MsgpackScan scan_msgpack(std::string_view bytes, size_t limit, bool* holds_binary) {
  if (holds_binary) *holds_binary = false;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  size_t pos = 0;
  // Elements still to read in each open container; the bottom entry is the one top-level value.
  // Never more than limit + 1 entries.
  std::vector<uint64_t> pending{1};
  while (!pending.empty()) {
    if (pos >= size) return MsgpackScan::malformed;
    const unsigned char type = data[pos++];
    const size_t left = size - pos;
    size_t header = 0;      // length/count bytes after the type byte
    uint64_t payload = 0;   // bytes of data after the header
    uint64_t children = 0;  // elements of an array, or keys plus values of a map
    bool container = false;
    if (type <= 0x7f || type >= 0xe0 || type == 0xc0 || type == 0xc2 || type == 0xc3) {
      // fixint, nil, false, true
    } else if (type <= 0x8f) {
      container = true;
      children = 2 * uint64_t{type & 0x0fu};
    } else if (type <= 0x9f) {
      container = true;
      children = type & 0x0fu;
    } else if (type <= 0xbf) {
      payload = type & 0x1fu;
    } else {
      switch (type) {
        case 0xc4: case 0xd9: header = 1; break;              // bin8, str8
        case 0xc5: case 0xda: header = 2; break;              // bin16, str16
        case 0xc6: case 0xdb: header = 4; break;              // bin32, str32
        case 0xc7: header = 1; payload = 1; break;            // ext8: length, then type byte
        case 0xc8: header = 2; payload = 1; break;            // ext16
        case 0xc9: header = 4; payload = 1; break;            // ext32
        case 0xca: payload = 4; break;                        // float32
        case 0xcb: payload = 8; break;                        // float64
        case 0xcc: case 0xd0: payload = 1; break;             // (u)int8
        case 0xcd: case 0xd1: payload = 2; break;             // (u)int16
        case 0xce: case 0xd2: payload = 4; break;             // (u)int32
        case 0xcf: case 0xd3: payload = 8; break;             // (u)int64
        case 0xd4: payload = 2; break;                        // fixext1: type byte + data
        case 0xd5: payload = 3; break;
        case 0xd6: payload = 5; break;
        case 0xd7: payload = 9; break;
        case 0xd8: payload = 17; break;
        case 0xdc: header = 2; container = true; break;       // array16
        case 0xdd: header = 4; container = true; break;       // array32
        case 0xde: header = 2; container = true; break;       // map16
        case 0xdf: header = 4; container = true; break;       // map32
        default: return MsgpackScan::malformed;               // 0xc1
      }
    }
    // bin8..ext32 (0xc4..0xc9) and fixext1..16 (0xd4..0xd8): values JSON has no form for.
    if (holds_binary && ((type >= 0xc4 && type <= 0xc9) || (type >= 0xd4 && type <= 0xd8))) *holds_binary = true;
    if (header > left) return MsgpackScan::malformed;
    if (header > 0) {
      uint64_t n = read_be(data + pos, header);
      pos += header;
      if (container) children = (type == 0xde || type == 0xdf) ? 2 * n : n;
      else payload += n;
    }
    // Every element takes at least one byte, so a count past the end is malformed too.
    if (payload > size - pos || children > size - pos) return MsgpackScan::malformed;
    pos += static_cast<size_t>(payload);
    --pending.back();
    if (container) {
      // This container sits at depth pending.size() (the bottom entry is depth 0).
      if (pending.size() > limit) return MsgpackScan::too_deep;
      if (children > 0) pending.push_back(children);
    }
    while (!pending.empty() && pending.back() == 0) pending.pop_back();
  }
  return pos == size ? MsgpackScan::ok : MsgpackScan::malformed;
}

}  // namespace im
