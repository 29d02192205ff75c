// Request validation (protocol/requests.cpp) on decoded frames, as the connection and user actors
// run it. The first byte picks the encoding (even: JSON, odd: MessagePack), the rest is the frame.

#include "fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto encoding = (data[0] & 1) ? im::Encoding::msgpack : im::Encoding::json;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  auto decoded = im::decode_frame(bytes, encoding, im::fuzz::kMaxNesting);
  if (decoded.status == im::DecodeStatus::ok) im::fuzz::exercise_requests(decoded.value);
  return 0;
}
