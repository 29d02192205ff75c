#include "protocol/codec.hpp"

#include "protocol/nesting.hpp"

namespace im {

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) { ++p; continue; }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

namespace {

Decoded too_deep(size_t max_nesting) {
  Decoded out;
  out.status = DecodeStatus::too_deep;
  out.message = "frame is nested deeper than " + std::to_string(max_nesting) + " levels";
  return out;
}

}  // namespace

Decoded decode_frame(std::string_view bytes, Encoding encoding, size_t max_nesting) {
  Decoded out;
  if (encoding == Encoding::json) {
    if (!is_valid_utf8(bytes)) {
      out.message = "frame is not valid UTF-8";
      return out;
    }
    if (json_nesting(bytes, max_nesting) > max_nesting) return too_deep(max_nesting);
    if (bytes.find('\0') == std::string_view::npos)
      out.value = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    else
      out.value = nlohmann::json(nlohmann::json::value_t::discarded);
    if (out.value.is_discarded()) {
      out.message = "frame is not valid JSON";
      return out;
    }
  } else {
    bool holds_binary = false;
    switch (scan_msgpack(bytes, max_nesting, &holds_binary)) {
      case MsgpackScan::ok:
        break;
      case MsgpackScan::too_deep:
        return too_deep(max_nesting);
      case MsgpackScan::malformed:
        out.message = "frame is not valid MessagePack";
        return out;
    }
    // nlohmann would keep bin and ext as binary values, which dump() turns into an object that
    // parses back as something else: frames carry JSON values only.
    if (holds_binary) {
      out.message = "frame has a MessagePack bin or ext value, which JSON cannot carry";
      return out;
    }
    out.value = nlohmann::json::from_msgpack(bytes.begin(), bytes.end(), true, false);
    if (out.value.is_discarded()) {
      out.message = "frame is not valid MessagePack";
      return out;
    }
    // MessagePack strings may carry any bytes; JSON (our canonical form) must be UTF-8.
    try {
      (void)out.value.dump();
    } catch (const nlohmann::json::exception&) {
      out.message = "frame has a string that is not valid UTF-8";
      return out;
    }
  }
  if (!out.value.is_object()) {
    out.status = DecodeStatus::not_object;
    out.message = "frame is not a JSON object";
    return out;
  }
  auto type = out.value.find("type");
  if (type == out.value.end() || !type->is_string()) {
    out.status = DecodeStatus::missing_type;
    out.message = "frame has no string field \"type\"";
    return out;
  }
  out.status = DecodeStatus::ok;
  return out;
}

nlohmann::json parse_json_object(std::string_view text, size_t max_nesting) {
  if (!is_valid_utf8(text) || json_nesting(text, max_nesting) > max_nesting || text.find('\0') != std::string_view::npos)
    return nlohmann::json(nlohmann::json::value_t::discarded);
  auto value = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!value.is_object()) return nlohmann::json(nlohmann::json::value_t::discarded);
  return value;
}

std::string encode_frame(const nlohmann::json& frame, Encoding encoding) {
  if (encoding == Encoding::json) return frame.dump();
  auto bytes = nlohmann::json::to_msgpack(frame);
  return std::string(bytes.begin(), bytes.end());
}

std::string transcode_json_text(const std::string& json_text, Encoding encoding) {
  if (encoding == Encoding::json) return json_text;
  return encode_frame(nlohmann::json::parse(json_text), encoding);
}

bool read_u64(const nlohmann::json& object, const char* key, uint64_t& out) {
  auto it = object.find(key);
  if (it == object.end()) return false;
  if (it->is_number_unsigned()) {
    out = it->get<uint64_t>();
    return true;
  }
  if (it->is_number_integer()) {
    auto v = it->get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

}  // namespace im
