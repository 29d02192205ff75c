#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/ws_framer.hpp"

using im::ws::FrameParser;
using Kind = FrameParser::Kind;

namespace {

constexpr unsigned char kFin = 0x80;

// A client frame: first byte `b0` (FIN | RSV | opcode) as given, masked with `key` unless
// `masked` is false. The length uses the shortest encoding.
std::string client_frame(unsigned char b0, std::string_view payload, bool masked = true,
                         uint32_t key = 0x37fa213d) {
  std::string out(1, static_cast<char>(b0));
  const unsigned char m = masked ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(m | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(n >> (56 - 8 * i)));
  }
  const unsigned char k[4] = {static_cast<unsigned char>(key >> 24), static_cast<unsigned char>(key >> 16),
                              static_cast<unsigned char>(key >> 8), static_cast<unsigned char>(key)};
  if (masked) out.append(reinterpret_cast<const char*>(k), 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out.push_back(masked ? static_cast<char>(payload[i] ^ static_cast<char>(k[i % 4])) : payload[i]);
  return out;
}

std::string close_frame(uint16_t code, std::string_view reason) {
  return client_frame(kFin | 8, im::ws::close_payload(code, reason));
}

// An event with its payload copied, comparable across feeding strategies.
struct Ev {
  Kind kind;
  bool binary;
  std::string payload;
  uint16_t code;
  bool operator==(const Ev& o) const {
    return kind == o.kind && binary == o.binary && payload == o.payload && code == o.code;
  }
};

// Feeds `stream` cut at `cuts` (sorted offsets) and collects every event; stops at an error.
std::vector<Ev> run(std::string_view stream, const std::vector<size_t>& cuts, uint64_t max = 1 << 20) {
  FrameParser parser(max);
  std::vector<Ev> events;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    std::string_view chunk = stream.substr(from, end - from);
    from = end;
    for (;;) {
      auto ev = parser.next(chunk);
      if (ev.kind == Kind::need_more) {
        CHECK(chunk.empty());
        break;
      }
      events.push_back({ev.kind, ev.binary, std::string(ev.payload), ev.close_code});
      if (ev.kind == Kind::error) return events;
    }
  }
  return events;
}

std::vector<size_t> every_byte(size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < n; ++i) cuts.push_back(i);
  return cuts;
}

std::string pattern(size_t n) {
  std::string s(n, 'a');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST_CASE("ws: masked text and binary frames of every length encoding") {
  struct Row {
    size_t size;
    unsigned len7;  // the 7-bit length field the frame carries
  };
  const Row rows[] = {{0, 0}, {125, 125}, {126, 126}, {65535, 126}, {65536, 127}};
  for (const auto& row : rows) {
    for (bool binary : {false, true}) {
      CAPTURE(row.size);
      CAPTURE(binary);
      auto payload = pattern(row.size);
      auto frame = client_frame(kFin | (binary ? 2 : 1), payload);
      CHECK((static_cast<unsigned char>(frame[1]) & 0x7F) == row.len7);
      FrameParser parser(1 << 20);
      std::string_view in = frame;
      auto ev = parser.next(in);
      CHECK(ev.kind == Kind::message);
      CHECK(ev.binary == binary);
      CHECK(ev.payload == payload);
      CHECK(in.empty());
      CHECK(parser.next(in).kind == Kind::need_more);
    }
  }
}

TEST_CASE("ws: the same stream gives the same events however it is split") {
  // Fragmented text with a ping between fragments and a UTF-8 character split across fragments,
  // then binary, pong, an empty close.
  std::string small = client_frame(1, "frag-one \xC3") + client_frame(kFin | 9, "are you there") +
                      client_frame(0, "\xA9 two ") + client_frame(kFin | 0, "three") +
                      client_frame(kFin | 2, std::string("\0\x01\xff", 3)) +
                      client_frame(kFin | 10, "") + client_frame(kFin | 1, "") +
                      client_frame(kFin | 8, "");
  const std::vector<Ev> expected = {
      {Kind::ping, false, "are you there", 0},
      {Kind::message, false, "frag-one \xC3\xA9 two three", 0},
      {Kind::message, true, std::string("\0\x01\xff", 3), 0},
      {Kind::pong, false, "", 0},
      {Kind::message, false, "", 0},
      {Kind::close, false, "", im::ws::kNoStatus},
  };
  CHECK(run(small, {}) == expected);
  CHECK(run(small, every_byte(small.size())) == expected);
  for (size_t cut = 1; cut < small.size(); ++cut) {
    CAPTURE(cut);
    CHECK(run(small, {cut}) == expected);
  }

  // Large frames (16- and 64-bit lengths) one byte at a time and in random splits.
  std::string big = client_frame(kFin | 2, pattern(65536)) + client_frame(kFin | 9, "p") +
                    client_frame(kFin | 1, pattern(65535)) + client_frame(1, pattern(70000)) +
                    client_frame(kFin | 0, pattern(126)) + close_frame(1000, "bye");
  auto whole = run(big, {});
  REQUIRE(whole.size() == 5);
  CHECK(whole[2].payload.size() == 65535);
  CHECK(whole[3].payload == pattern(70000) + pattern(126));
  CHECK(whole[4] == Ev{Kind::close, false, "bye", 1000});
  CHECK(run(big, every_byte(big.size())) == whole);
  std::mt19937 rng(6455);
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> cuts;
    for (size_t at = 0;;) {
      at += std::uniform_int_distribution<size_t>(1, round % 2 ? 20 : 9000)(rng);
      if (at >= big.size()) break;
      cuts.push_back(at);
    }
    CAPTURE(round);
    CHECK(run(big, cuts) == whole);
  }
}

TEST_CASE("ws: protocol violations close with the right code, and the parser stays failed") {
  const uint16_t kProto = im::ws::kProtocolError, kUtf8 = im::ws::kInvalidPayload,
                 kBig = im::ws::kTooBig;
  auto code = [](uint16_t c) { return std::string{static_cast<char>(c >> 8), static_cast<char>(c & 0xFF)}; };
  struct Row {
    const char* name;
    std::string bytes;
    uint16_t code;
  };
  const Row rows[] = {
      {"unmasked text", client_frame(kFin | 1, "hi", false), kProto},
      {"unmasked empty frame", client_frame(kFin | 1, "", false), kProto},
      {"RSV1", client_frame(kFin | 0x40 | 1, "hi"), kProto},
      {"RSV2", client_frame(kFin | 0x20 | 2, "hi"), kProto},
      {"RSV3", client_frame(kFin | 0x10 | 9, ""), kProto},
      {"opcode 3", client_frame(kFin | 3, "x"), kProto},
      {"opcode 7", client_frame(kFin | 7, "x"), kProto},
      {"opcode 11", client_frame(kFin | 11, "x"), kProto},
      {"opcode 15", client_frame(kFin | 15, "x"), kProto},
      {"ping of 126 bytes", client_frame(kFin | 9, pattern(126)), kProto},
      {"close of 126 bytes", client_frame(kFin | 8, code(1000) + pattern(124)), kProto},
      {"fragmented ping", client_frame(9, "x"), kProto},
      {"close with 1-byte body", client_frame(kFin | 8, "\x03"), kProto},
      {"close code 0", client_frame(kFin | 8, code(0)), kProto},
      {"close code 999", client_frame(kFin | 8, code(999)), kProto},
      {"close code 1004", client_frame(kFin | 8, code(1004)), kProto},
      {"close code 1005", client_frame(kFin | 8, code(1005)), kProto},
      {"close code 1006", client_frame(kFin | 8, code(1006)), kProto},
      {"close code 1012", client_frame(kFin | 8, code(1012)), kProto},
      {"close code 1015", client_frame(kFin | 8, code(1015)), kProto},
      {"close code 2999", client_frame(kFin | 8, code(2999)), kProto},
      {"close code 5000", client_frame(kFin | 8, code(5000)), kProto},
      {"close code 65535", client_frame(kFin | 8, code(65535)), kProto},
      {"close reason not UTF-8", client_frame(kFin | 8, code(1000) + "\xff"), kUtf8},
      {"continuation without message", client_frame(kFin | 0, "x"), kProto},
      {"text inside fragmented message", client_frame(1, "a") + client_frame(kFin | 1, "b"), kProto},
      {"binary inside fragmented message", client_frame(2, "a") + client_frame(2, "b"), kProto},
      {"64-bit length top bit", std::string("\x82\xff\x80\0\0\0\0\0\0\0" "abcd", 14), kProto},
      {"too big, one frame", client_frame(kFin | 2, pattern(1001)), kBig},
      {"too big across fragments", client_frame(2, pattern(600)) + client_frame(kFin, pattern(401)), kBig},
      {"text overlong", client_frame(kFin | 1, "\xC0\xAF"), kUtf8},
      {"text surrogate", client_frame(kFin | 1, "\xED\xA0\x80"), kUtf8},
      {"text above U+10FFFF", client_frame(kFin | 1, "\xF4\x90\x80\x80"), kUtf8},
      {"text truncated sequence", client_frame(kFin | 1, "ok\xE2\x82"), kUtf8},
      {"fragmented text not UTF-8", client_frame(1, "a\xC3") + client_frame(kFin, "b"), kUtf8},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    for (bool bytewise : {false, true}) {
      auto events = run(row.bytes, bytewise ? every_byte(row.bytes.size()) : std::vector<size_t>{}, 1000);
      REQUIRE(!events.empty());
      CHECK(events.back().kind == Kind::error);
      CHECK(events.back().code == row.code);
    }
    FrameParser parser(1000);
    std::string_view in = row.bytes;
    FrameParser::Event ev;
    do ev = parser.next(in); while (ev.kind != Kind::error && ev.kind != Kind::need_more);
    REQUIRE(ev.kind == Kind::error);
    CHECK(!ev.error.empty());
    auto fine = client_frame(kFin | 1, "fine");
    std::string_view more = fine;
    auto again = parser.next(more);
    CHECK(again.kind == Kind::error);
    CHECK(again.close_code == row.code);
    CHECK(parser.failed());
  }
}

TEST_CASE("ws: accepted edge cases") {
  // Valid close codes, a 125-byte ping, a non-minimal length encoding, exactly max bytes.
  for (uint16_t c : {1000, 1001, 1003, 1007, 1011, 3000, 4999}) {
    CAPTURE(c);
    CHECK(run(close_frame(c, "r\xC3\xA9"), {}) == std::vector<Ev>{{Kind::close, false, "r\xC3\xA9", c}});
  }
  CHECK(run(client_frame(kFin | 9, pattern(125)), {}) == std::vector<Ev>{{Kind::ping, false, pattern(125), 0}});
  // "hi" with a 16-bit length and a zero mask.
  std::string loose("\x81\xfe\x00\x02\0\0\0\0hi", 10);
  CHECK(run(loose, {}) == std::vector<Ev>{{Kind::message, false, "hi", 0}});
  CHECK(run(client_frame(2, pattern(600)) + client_frame(kFin, pattern(400)), {}, 1000).at(0).payload.size() == 1000);
  CHECK(run(client_frame(kFin | 1, "\xF0\x9F\x98\x80 \xE2\x82\xAC"), {}).at(0).kind == Kind::message);
}

TEST_CASE("ws: too big is detected from the header alone") {
  FrameParser parser(64 * 1024);
  // Header of a 1 MiB binary frame (64-bit length) plus the mask key, and no payload.
  std::string header = client_frame(kFin | 2, pattern(1 << 20)).substr(0, 14);
  std::string_view in = header;
  auto ev = parser.next(in);
  CHECK(ev.kind == Kind::error);
  CHECK(ev.close_code == im::ws::kTooBig);
  CHECK(in.empty());
  CHECK(parser.buffer_capacity() < 64);

  FrameParser p16(1000);  // a 16-bit length, header fed one byte at a time
  std::string h16 = client_frame(kFin | 1, pattern(1001)).substr(0, 8);
  FrameParser::Event last;
  for (char c : h16) {
    std::string_view one(&c, 1);
    last = p16.next(one);
  }
  CHECK(last.kind == Kind::error);
  CHECK(last.close_code == im::ws::kTooBig);
}

TEST_CASE("ws: encode_header round-trips every length encoding") {
  struct Row {
    uint64_t size;
    size_t header_len;
  };
  const Row rows[] = {{0, 2}, {125, 2}, {126, 4}, {65535, 4}, {65536, 10}, {uint64_t{1} << 40, 10}};
  for (const auto& row : rows) {
    CAPTURE(row.size);
    unsigned char h[10];
    size_t n = im::ws::encode_header(im::ws::Opcode::binary, row.size, h);
    CHECK(n == row.header_len);
    CHECK(h[0] == 0x82);
    CHECK((h[1] & 0x80) == 0);  // servers do not mask
    uint64_t len = h[1] & 0x7F;
    if (len == 126) len = (uint64_t{h[2]} << 8) | h[3];
    else if (len == 127) {
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | h[i];
    }
    CHECK(len == row.size);
  }
  unsigned char h[10];
  CHECK(im::ws::encode_header(im::ws::Opcode::close, 2, h) == 2);
  CHECK(h[0] == 0x88);
}

TEST_CASE("ws: close_payload truncates to 125 bytes on a character boundary") {
  auto p = im::ws::close_payload(1009, "too big");
  CHECK(p == std::string("\x03\xf1too big"));
  CHECK(im::ws::close_payload(1000, "") == std::string("\x03\xe8", 2));
  auto long_ascii = im::ws::close_payload(1002, std::string(200, 'x'));
  CHECK(long_ascii.size() == 125);
  CHECK(long_ascii.substr(2) == std::string(123, 'x'));
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";
  auto cut = im::ws::close_payload(1000, accents);
  CHECK(cut.size() == 124);  // 61 whole characters; the 62nd would need bytes 123-124
  CHECK(im::is_valid_utf8(cut.substr(2)));
  // Our own close frame parses back.
  CHECK(run(close_frame(1002, std::string(300, 'r')), {}).at(0).payload.size() == 123);
}

TEST_CASE("ws: the reassembly buffer is reused, and shrink releases a large one") {
  FrameParser parser(1 << 20);
  std::string frame = client_frame(kFin | 2, pattern(100000));
  std::string_view in = frame;
  CHECK(parser.next(in).payload.size() == 100000);
  const size_t cap = parser.buffer_capacity();
  CHECK(cap >= 100000);
  in = frame;  // the same size again: no growth
  CHECK(parser.next(in).kind == Kind::message);
  CHECK(parser.buffer_capacity() == cap);
  parser.shrink(1 << 20);  // under the limit: kept
  CHECK(parser.buffer_capacity() == cap);
  parser.shrink(4096);
  CHECK(parser.buffer_capacity() < 4096);

  // Mid-message shrink is a no-op, and the message still arrives whole.
  std::string first = client_frame(1, pattern(10000)), rest = client_frame(kFin, "tail");
  in = first;
  CHECK(parser.next(in).kind == Kind::need_more);
  parser.shrink(0);
  CHECK(parser.buffer_capacity() >= 10000);
  in = rest;
  CHECK(parser.next(in).payload == pattern(10000) + "tail");
  in = {};
  CHECK(parser.next(in).kind == Kind::need_more);
  parser.shrink(0);
  CHECK(parser.buffer_capacity() < 64);
}
