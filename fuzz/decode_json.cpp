// JSON frames (WebSocket text, raw TCP): decode_frame against nlohmann's own parser.
// Properties: the nesting scan agrees with the depth nlohmann's parser reports; a decoded frame
// is at most kMaxNesting deep and survives dump -> parse unchanged.

#include "fuzz/fuzz_common.hpp"
#include "protocol/nesting.hpp"

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = im::decode_frame(bytes, im::Encoding::json, im::fuzz::kMaxNesting);

  // nlohmann's parser is iterative; its callback reports the depth of every value it reads.
  size_t deepest = 0;
  json::parser_callback_t depth_of = [&](int depth, json::parse_event_t event, json&) {
    if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start)
      deepest = std::max(deepest, static_cast<size_t>(depth) + 1);
    return true;
  };
  auto reference = json::parse(bytes.begin(), bytes.end(), depth_of, false);
  // nlohmann stops at a NUL byte as at the end of the input; JSON has no raw NUL anywhere.
  const bool valid = !reference.is_discarded() && im::is_valid_utf8(bytes) &&
                     bytes.find('\0') == std::string_view::npos;
  const size_t scanned = im::json_nesting(bytes, 1000000);
  if (valid) FUZZ_CHECK(scanned == deepest);

  switch (decoded.status) {
    case im::DecodeStatus::ok: {
      FUZZ_CHECK(valid && reference == decoded.value);
      FUZZ_CHECK(im::value_nesting(decoded.value) <= im::fuzz::kMaxNesting);
      auto text = im::encode_frame(decoded.value, im::Encoding::json);
      auto again = im::decode_frame(text, im::Encoding::json, im::fuzz::kMaxNesting);
      FUZZ_CHECK(again.status == im::DecodeStatus::ok && again.value == decoded.value);
      break;
    }
    case im::DecodeStatus::too_deep:
      FUZZ_CHECK(scanned > im::fuzz::kMaxNesting);
      break;
    case im::DecodeStatus::not_object:
    case im::DecodeStatus::missing_type:
      FUZZ_CHECK(valid && scanned <= im::fuzz::kMaxNesting);
      break;
    case im::DecodeStatus::malformed:
      FUZZ_CHECK(!valid);
      break;
  }
  return 0;
}
