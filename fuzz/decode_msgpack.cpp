// MessagePack frames (WebSocket binary): decode_frame and its pre-scan against nlohmann's reader.
// Properties: a decoded frame is at most kMaxNesting deep, valid UTF-8 once dumped, and survives
// encode -> decode unchanged; the scan never calls malformed what nlohmann reads, and never lets
// through input deeper than the limit.

#include "fuzz/fuzz_common.hpp"
#include "protocol/nesting.hpp"

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = im::decode_frame(bytes, im::Encoding::msgpack, im::fuzz::kMaxNesting);
  auto scan = im::scan_msgpack(bytes, im::fuzz::kMaxNesting);

  // nlohmann's reader recurses once per level: only ask it about input the scan found shallow.
  if (scan == im::MsgpackScan::ok) {
    auto reference = json::from_msgpack(bytes.begin(), bytes.end(), true, false);
    if (!reference.is_discarded()) FUZZ_CHECK(im::value_nesting(reference) <= im::fuzz::kMaxNesting);
  } else if (scan == im::MsgpackScan::too_deep) {
    FUZZ_CHECK(decoded.status == im::DecodeStatus::too_deep);
  } else {
    FUZZ_CHECK(decoded.status == im::DecodeStatus::malformed);
    // What the scan calls malformed, nlohmann must refuse too (short input: recursion is bounded).
    if (size <= 256) FUZZ_CHECK(json::from_msgpack(bytes.begin(), bytes.end(), true, false).is_discarded());
  }

  if (decoded.status == im::DecodeStatus::ok) {
    FUZZ_CHECK(scan == im::MsgpackScan::ok);
    FUZZ_CHECK(im::value_nesting(decoded.value) <= im::fuzz::kMaxNesting);
    auto text = decoded.value.dump();  // throws on invalid UTF-8: decode_frame must have refused it
    FUZZ_CHECK(im::is_valid_utf8(text));
    auto packed = im::encode_frame(decoded.value, im::Encoding::msgpack);
    auto again = im::decode_frame(packed, im::Encoding::msgpack, im::fuzz::kMaxNesting);
    FUZZ_CHECK(again.status == im::DecodeStatus::ok && again.value == decoded.value);
  }
  return 0;
}
