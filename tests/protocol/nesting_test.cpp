// Nesting limits (PROTOCOL.md section 1): measured without recursion, before anything recursive
// sees the input; a frame deeper than max_nesting is refused by decode_frame.

#include <doctest/doctest.h>

#include "protocol/codec.hpp"
#include "protocol/nesting.hpp"
#include "protocol/requests.hpp"

using im::DecodeStatus;
using im::Encoding;
using im::MsgpackScan;
using nlohmann::json;

namespace {

constexpr size_t kLimit = 64;

// A send frame whose body holds `arrays` nested arrays: the frame is at depth arrays + 2.
std::string deep_send(size_t arrays) {
  return R"({"type":"send","cid":"c","to":{"user":2},"body":{"a":)" + std::string(arrays, '[') +
         std::string(arrays, ']') + "}}";
}

// `levels` nested one-element MessagePack arrays around nil.
std::string msgpack_arrays(size_t levels) { return std::string(levels, '\x91') + '\xc0'; }

// The same send frame in MessagePack: fixmap{4} with the body's nested arrays.
std::string deep_send_msgpack(size_t arrays) {
  json frame{{"type", "send"}, {"cid", "c"}, {"to", {{"user", 2}}}, {"body", {{"a", nullptr}}}};
  auto packed = im::encode_frame(frame, Encoding::msgpack);
  // nil (0xc0) is the body's only nil: replace it by the arrays around an empty array.
  auto at = packed.find('\xc0');
  REQUIRE(at != std::string::npos);
  std::string nested = arrays == 0 ? std::string("\xc0") : std::string(arrays - 1, '\x91') + '\x90';
  return packed.substr(0, at) + nested + packed.substr(at + 1);
}

}  // namespace

TEST_CASE("json_nesting counts containers outside strings") {
  CHECK(im::json_nesting("", kLimit) == 0);
  CHECK(im::json_nesting("42", kLimit) == 0);
  CHECK(im::json_nesting("[]", kLimit) == 1);
  CHECK(im::json_nesting("{}", kLimit) == 1);
  CHECK(im::json_nesting(R"({"a":[1,{"b":[]}],"c":{}})", kLimit) == 4);
  CHECK(im::json_nesting(R"(["[[[[", "{{"])", kLimit) == 1);
  CHECK(im::json_nesting(R"(["\"[[[", "\\", ["x"]])", kLimit) == 2);  // escaped quotes and backslashes
  CHECK(im::json_nesting("]]]][", kLimit) == 1);  // not JSON: some number, never negative
  CHECK(im::json_nesting(std::string(kLimit, '['), kLimit) == kLimit);
  CHECK(im::json_nesting(std::string(100000, '['), kLimit) == kLimit + 1);  // stops early
}

TEST_CASE("scan_msgpack walks every type without recursion") {
  json all{{"nil", nullptr},
           {"t", true},
           {"f", false},
           {"small", 5},
           {"neg", -5},
           {"u8", 200},
           {"u16", 60000},
           {"u32", 4000000000u},
           {"u64", 18000000000000000000ull},
           {"i8", -100},
           {"i16", -30000},
           {"i32", -2000000000},
           {"i64", -9000000000000000000ll},
           {"f64", 1.5},
           {"s", "x"},
           {"s8", std::string(40, 's')},
           {"s16", std::string(300, 's')},
           {"s32", std::string(70000, 's')},
           {"a16", json::array()},
           {"m", {{"k", {1, 2, {{"z", json::array()}}}}}},
           {"bin", json::binary({1, 2, 3})},
           {"ext", json::binary({1, 2, 3, 4}, 7)}};
  for (int i = 0; i < 20; ++i) all["a16"].push_back(i);
  for (int i = 0; i < 20; ++i) all["m"]["k" + std::to_string(i)] = i;
  auto packed = json::to_msgpack(all);
  std::string bytes(packed.begin(), packed.end());
  CHECK(im::scan_msgpack(bytes, kLimit) == MsgpackScan::ok);
  const size_t depth = im::value_nesting(all);
  CHECK(depth == 5);  // all, m, k, {z}, z
  CHECK(im::scan_msgpack(bytes, depth) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(bytes, depth - 1) == MsgpackScan::too_deep);
  // Every proper prefix is truncated, and a byte more is trailing.
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 8) {
    CAPTURE(n);
    CHECK(im::scan_msgpack(bytes.substr(0, n), kLimit) == MsgpackScan::malformed);
  }
  CHECK(im::scan_msgpack(bytes + '\x01', kLimit) == MsgpackScan::malformed);
  // fixext, float32, ext8/16/32 and the never-used 0xc1.
  CHECK(im::scan_msgpack(std::string("\xd4\x01\x02", 3), kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string("\xd8\x01") + std::string(16, 'x'), kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string("\xca\0\0\0\0", 5), kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string("\xc7\x02\x05xy", 5), kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string("\xc8\x00\x02\x05xy", 6), kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string("\xc9\x00\x00\x00\x02\x05xy", 8), kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string("\xc9\x00\x00\x00\x02\x05x", 7), kLimit) == MsgpackScan::malformed);
  CHECK(im::scan_msgpack("\xc1", kLimit) == MsgpackScan::malformed);
}

TEST_CASE("scan_msgpack checks lengths and counts against the bytes") {
  // A 4-billion-element array or map, a 4 GB string: refused without allocating or reading on.
  CHECK(im::scan_msgpack(std::string("\xdd\xff\xff\xff\xff\x01", 6), kLimit) == MsgpackScan::malformed);
  CHECK(im::scan_msgpack(std::string("\xdf\x80\x00\x00\x00\x01\x01", 7), kLimit) == MsgpackScan::malformed);
  CHECK(im::scan_msgpack(std::string("\xdb\xff\xff\xff\xff", 5) + "abc", kLimit) == MsgpackScan::malformed);
  CHECK(im::scan_msgpack(std::string("\xc6\xff\xff\xff", 4), kLimit) == MsgpackScan::malformed);
  // A map needs two elements per entry.
  CHECK(im::scan_msgpack("\x81\xa1k", kLimit) == MsgpackScan::malformed);
  CHECK(im::scan_msgpack("\x81\xa1k\x01", kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string("\x92\x90\x80", 3), kLimit) == MsgpackScan::ok);
}

TEST_CASE("scan_msgpack: 64 levels pass, 65 do not, 100,000 stop at once") {
  CHECK(im::scan_msgpack(msgpack_arrays(kLimit), kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(msgpack_arrays(kLimit + 1), kLimit) == MsgpackScan::too_deep);
  // Empty containers count as a level too.
  CHECK(im::scan_msgpack(std::string(kLimit - 1, '\x91') + '\x90', kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string(kLimit - 1, '\x91') + '\x80', kLimit) == MsgpackScan::ok);
  CHECK(im::scan_msgpack(std::string(kLimit, '\x91') + '\x80', kLimit) == MsgpackScan::too_deep);
  CHECK(im::scan_msgpack(msgpack_arrays(100000), kLimit) == MsgpackScan::too_deep);
  CHECK(im::scan_msgpack(std::string(100000, '\x91'), kLimit) == MsgpackScan::too_deep);  // unterminated
}

TEST_CASE("decode_frame refuses frames nested deeper than max_nesting, in both encodings") {
  // The frame object is level 1, its body level 2: 62 arrays in the body make 64 levels.
  auto json_ok = im::decode_frame(deep_send(kLimit - 2), Encoding::json, kLimit);
  REQUIRE(json_ok.status == DecodeStatus::ok);
  CHECK(im::value_nesting(json_ok.value) == kLimit);
  CHECK(im::decode_frame(deep_send(kLimit - 1), Encoding::json, kLimit).status == DecodeStatus::too_deep);

  auto mp_ok = im::decode_frame(deep_send_msgpack(kLimit - 2), Encoding::msgpack, kLimit);
  REQUIRE(mp_ok.status == DecodeStatus::ok);
  CHECK(mp_ok.value == json_ok.value);
  CHECK(im::decode_frame(deep_send_msgpack(kLimit - 1), Encoding::msgpack, kLimit).status == DecodeStatus::too_deep);

  // The attacks: 100,000 levels (nlohmann's reader and dump() would recurse once per level).
  auto deep_json = im::decode_frame(deep_send(100000), Encoding::json, kLimit);
  CHECK(deep_json.status == DecodeStatus::too_deep);
  CHECK(deep_json.message.find("nested deeper than 64") != std::string::npos);
  CHECK(im::decode_frame(std::string(100000, '\x91'), Encoding::msgpack, kLimit).status == DecodeStatus::too_deep);
  CHECK(im::decode_frame(msgpack_arrays(100000), Encoding::msgpack, kLimit).status == DecodeStatus::too_deep);
  CHECK(im::decode_frame(deep_send_msgpack(100000), Encoding::msgpack, kLimit).status == DecodeStatus::too_deep);
  // A smaller limit applies as given.
  CHECK(im::decode_frame(R"({"type":"ping","a":[[]]})", Encoding::json, 3).status == DecodeStatus::ok);
  CHECK(im::decode_frame(R"({"type":"ping","a":[[[]]]})", Encoding::json, 3).status == DecodeStatus::too_deep);
}

TEST_CASE("parse_send takes a body at the nesting limit") {
  auto decoded = im::decode_frame(deep_send(kLimit - 2), Encoding::json, kLimit);
  REQUIRE(decoded.status == DecodeStatus::ok);
  auto parsed = im::parse_send(decoded.value, 16 * 1024);
  REQUIRE(parsed);
  CHECK(parsed.value->body_json == R"({"a":)" + std::string(kLimit - 2, '[') + std::string(kLimit - 2, ']') + "}");
}

TEST_CASE("parse_json_object: an object in UTF-8 within the limit, otherwise discarded") {
  CHECK(im::parse_json_object(R"({"username":"a","password":"b"})", kLimit).is_object());
  CHECK(im::parse_json_object("[1]", kLimit).is_discarded());
  CHECK(im::parse_json_object("{nope", kLimit).is_discarded());
  CHECK(im::parse_json_object("{\"a\":\"\xff\"}", kLimit).is_discarded());
  CHECK(im::parse_json_object("{\"a\":" + std::string(kLimit - 1, '[') + std::string(kLimit - 1, ']') + "}", kLimit)
            .is_object());
  CHECK(im::parse_json_object("{\"a\":" + std::string(kLimit, '[') + std::string(kLimit, ']') + "}", kLimit)
            .is_discarded());
  CHECK(im::parse_json_object("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", kLimit)
            .is_discarded());
}
