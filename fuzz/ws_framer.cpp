// The WebSocket framer (protocol/ws_framer.cpp) on client bytes, as net/ws_session.cpp drives it:
// events until need_more, shrink() between reads, each message decoded as a frame.
// Properties: the events do not depend on how the bytes were split into reads; messages stay
// within the size limit, control payloads within 125 bytes; an error is sticky.
// The first byte seeds the read sizes, the rest is the stream.

#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "protocol/ws_framer.hpp"

namespace {

constexpr uint64_t kMaxMessage = 64 * 1024;
constexpr size_t kKeepBufferBytes = 1024;  // net/ws_session.cpp

struct Seen {
  im::ws::FrameParser::Kind kind;
  bool binary;
  std::string payload;
  uint16_t code;
  bool operator==(const Seen& o) const {
    return kind == o.kind && binary == o.binary && payload == o.payload && code == o.code;
  }
};

// Feeds `stream` in reads of the sizes `next_size` gives; returns the events, ending at the first
// error (which is then checked to be sticky).
template <class NextSize>
std::vector<Seen> run(std::string_view stream, NextSize next_size, bool decode) {
  using Kind = im::ws::FrameParser::Kind;
  im::ws::FrameParser parser(kMaxMessage);
  std::vector<Seen> out;
  while (!stream.empty()) {
    size_t n = std::min(stream.size(), next_size());
    std::string read(stream.substr(0, n));  // a fresh buffer per read, as the socket gives
    stream.remove_prefix(n);
    std::string_view input(read);
    for (;;) {
      auto ev = parser.next(input);
      if (ev.kind == Kind::need_more) {
        FUZZ_CHECK(input.empty());
        parser.shrink(kKeepBufferBytes);
        break;
      }
      if (ev.kind == Kind::message) {
        FUZZ_CHECK(ev.payload.size() <= kMaxMessage);
        if (!ev.binary) FUZZ_CHECK(im::is_valid_utf8(ev.payload));
        if (decode) {
          auto d = im::decode_frame(ev.payload, ev.binary ? im::Encoding::msgpack : im::Encoding::json,
                                    im::fuzz::kMaxNesting);
          if (d.status == im::DecodeStatus::ok) im::fuzz::exercise_requests(d.value);
        }
      }
      if (ev.kind == Kind::ping || ev.kind == Kind::pong) FUZZ_CHECK(ev.payload.size() <= 125);
      if (ev.kind == Kind::close) FUZZ_CHECK(ev.payload.size() <= 123 && im::is_valid_utf8(ev.payload));
      out.push_back({ev.kind, ev.binary, std::string(ev.payload), ev.close_code});
      if (ev.kind == Kind::error) {
        FUZZ_CHECK(parser.failed());
        std::string_view more("\x81\x80\0\0\0\0", 6);
        auto again = parser.next(more);
        FUZZ_CHECK(again.kind == Kind::error && again.close_code == ev.close_code && more.size() == 6);
        return out;
      }
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0] * 2654435761u + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  auto whole = run(stream, [&] { return stream.size(); }, true);
  auto pieces = run(stream, [&] {
    seed = seed * 1103515245u + 12345u;
    return size_t{1} + (seed >> 16) % 17;
  }, false);
  FUZZ_CHECK(whole == pieces);

  // The encoders, on sizes and reasons from the input.
  unsigned char header[10];
  uint64_t n = 0;
  for (size_t i = 0; i < std::min<size_t>(8, stream.size()); ++i) n = (n << 8) | static_cast<uint8_t>(stream[i]);
  size_t len = im::ws::encode_header(im::ws::Opcode::binary, n, header);
  FUZZ_CHECK(len == 2 || len == 4 || len == 10);
  auto payload = im::ws::close_payload(1000, stream);
  FUZZ_CHECK(payload.size() <= 125);
  if (im::is_valid_utf8(stream)) FUZZ_CHECK(im::is_valid_utf8(std::string_view(payload).substr(2)));
  return 0;
}
