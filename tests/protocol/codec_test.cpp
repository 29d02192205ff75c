#include <doctest/doctest.h>

#include "protocol/codec.hpp"

using im::DecodeStatus;
using im::Encoding;

TEST_CASE("decode_frame classifies JSON input") {
  struct Row {
    std::string bytes;
    DecodeStatus status;
  };
  const Row rows[] = {
      {R"({"type":"ping"})", DecodeStatus::ok},
      {R"({"type":"ping","extra":[1,2,{"x":null}]})", DecodeStatus::ok},
      {R"({"type":"ping")", DecodeStatus::malformed},  // truncated
      {R"({"type":"ping"} trailing)", DecodeStatus::malformed},
      {std::string("{\"type\":\"ping\"}\0[]", 18), DecodeStatus::malformed},  // nlohmann stops at NUL
      {std::string("{\"type\":\"ping\",\"x\":\"\0\"}", 23), DecodeStatus::malformed},
      {"", DecodeStatus::malformed},
      {"not json", DecodeStatus::malformed},
      {"[1,2,3]", DecodeStatus::not_object},
      {"42", DecodeStatus::not_object},
      {R"("string")", DecodeStatus::not_object},
      {"null", DecodeStatus::not_object},
      {R"({})", DecodeStatus::missing_type},
      {R"({"type":5})", DecodeStatus::missing_type},
      {R"({"type":null})", DecodeStatus::missing_type},
      {"{\"type\":\"ping\",\"x\":\"\xff\xfe\"}", DecodeStatus::malformed},  // invalid UTF-8
      {"{\"type\":\"ping\",\"x\":\"\xc0\xaf\"}", DecodeStatus::malformed},  // overlong
      {"{\"type\":\"ping\",\"x\":\"\xed\xa0\x80\"}", DecodeStatus::malformed},  // surrogate
      {"{\"type\":\"ping\",\"x\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\"}", DecodeStatus::ok},
  };
  for (const auto& row : rows) {
    CAPTURE(row.bytes);
    CHECK(im::decode_frame(row.bytes, Encoding::json, 64).status == row.status);
  }
}

TEST_CASE("decode_frame reads MessagePack and rejects invalid UTF-8 inside it") {
  nlohmann::json frame{{"type", "send"}, {"cid", "a"}, {"body", {{"text", "hi"}}}};
  auto packed = im::encode_frame(frame, Encoding::msgpack);
  auto decoded = im::decode_frame(packed, Encoding::msgpack, 64);
  REQUIRE(decoded.status == DecodeStatus::ok);
  CHECK(decoded.value == frame);

  // fixmap{1}: fixstr "type" -> fixstr of 2 invalid bytes
  std::string bad = "\x81\xa4type\xa2\xff\xfe";
  CHECK(im::decode_frame(bad, Encoding::msgpack, 64).status == DecodeStatus::malformed);
  CHECK(im::decode_frame("\xc1", Encoding::msgpack, 64).status == DecodeStatus::malformed);
  CHECK(im::decode_frame(im::encode_frame(nlohmann::json::array({1}), Encoding::msgpack), Encoding::msgpack, 64).status ==
        DecodeStatus::not_object);
}

TEST_CASE("decode_frame refuses MessagePack bin and ext values, which JSON cannot carry") {
  // fixmap{2}: "type" -> "read", "k" -> the value under test; the 28-byte fuzz find had a fixext4.
  auto frame_with = [](const std::string& value) { return std::string("\x82\xa4type\xa4read\xa1k") + value; };
  CHECK(im::decode_frame(frame_with(std::string("\x01", 1)), Encoding::msgpack, 64).status == DecodeStatus::ok);
  for (const auto& value : {std::string("\xc4\x02xy", 4), std::string("\xd6\x05wxyz", 6),
                            std::string("\xc7\x01\x05x", 4), std::string("\x91\xd4\x05x", 4)}) {
    auto decoded = im::decode_frame(frame_with(value), Encoding::msgpack, 64);
    CHECK(decoded.status == DecodeStatus::malformed);
    CHECK(decoded.message.find("bin or ext") != std::string::npos);
  }
}

TEST_CASE("transcode_json_text round-trips through MessagePack") {
  std::string text = R"({"type":"msg","useq":7,"body":{"text":"x"}})";
  CHECK(im::transcode_json_text(text, Encoding::json) == text);
  auto packed = im::transcode_json_text(text, Encoding::msgpack);
  CHECK(im::decode_frame(packed, Encoding::msgpack, 64).value == nlohmann::json::parse(text));
}

TEST_CASE("read_u64 accepts only non-negative integers") {
  auto j = nlohmann::json::parse(R"({"a":5,"b":-1,"c":1.5,"d":"5","e":18446744073709551615})");
  uint64_t v = 0;
  CHECK(im::read_u64(j, "a", v));
  CHECK(v == 5);
  CHECK_FALSE(im::read_u64(j, "b", v));
  CHECK_FALSE(im::read_u64(j, "c", v));
  CHECK_FALSE(im::read_u64(j, "d", v));
  CHECK(im::read_u64(j, "e", v));
  CHECK(v == UINT64_MAX);
  CHECK_FALSE(im::read_u64(j, "missing", v));
}
