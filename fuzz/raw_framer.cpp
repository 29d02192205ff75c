// The raw-TCP framer (protocol/raw_framer.cpp) as net/raw_session.cpp drives it: the transport is
// sniffed, then 4-byte big-endian length prefixes and JSON frames until the first bad prefix
// (which closes the connection) or the end of the input; each frame is decoded and dispatched.
// Properties: a prefix's status matches its length; length_prefixed() round-trips.

#include "fuzz/fuzz_common.hpp"
#include "protocol/raw_framer.hpp"

namespace {
constexpr uint64_t kMaxFrame = 4096;  // small, so the fuzzer reaches too_large
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (im::sniff_transport(input) != im::Sniffed::raw_tcp) return 0;
  while (input.size() >= 4) {
    auto length = im::parse_length_prefix(reinterpret_cast<const unsigned char*>(input.data()), kMaxFrame);
    if (length.length == 0) FUZZ_CHECK(length.status == im::LengthStatus::empty);
    else if (length.length > kMaxFrame) FUZZ_CHECK(length.status == im::LengthStatus::too_large);
    else FUZZ_CHECK(length.status == im::LengthStatus::ok);
    if (length.status != im::LengthStatus::ok) break;
    input.remove_prefix(4);
    if (input.size() < length.length) break;
    auto frame = input.substr(0, static_cast<size_t>(length.length));
    input.remove_prefix(frame.size());
    auto framed = im::length_prefixed(frame);
    auto back = im::parse_length_prefix(reinterpret_cast<const unsigned char*>(framed.data()), kMaxFrame);
    FUZZ_CHECK(back.length == frame.size() && framed.substr(4) == frame);
    auto decoded = im::decode_frame(frame, im::Encoding::json, im::fuzz::kMaxNesting);
    if (decoded.status == im::DecodeStatus::ok) im::fuzz::exercise_requests(decoded.value);
  }
  return 0;
}
