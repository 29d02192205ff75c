// imbench's frame scanner (tools/imbench/frame_scan.hpp): it decides what the load generator
// counts as delivered, lost or duplicated, so it must read what a JSON parser reads and refuse
// what a JSON parser refuses.

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "frame_scan.hpp"

using imbench::Frame;
using imbench::scan_frame;
using nlohmann::json;

TEST_CASE("a msg push is read like the JSON parser reads it") {
  auto text = std::string(R"({"type":"msg","useq":42,"conv":"g:7","seq":3,"from":1001,)") +
              R"("body":{"i":17,"t":1700000000123456,"p":"xxxx","nested":{"i":99}},"ts":5})";
  Frame f;
  REQUIRE(scan_frame(text, f));
  auto j = json::parse(text);
  CHECK(f.type == j["type"].get<std::string>());
  CHECK(f.useq == j["useq"].get<uint64_t>());
  CHECK(f.conv == "g:7");
  CHECK(f.from == 1001);
  CHECK(f.body_int("i", -1) == 17);  // the nested "i" is not the body's
  CHECK(f.body_int("t", 0) == 1700000000123456);
  CHECK(f.body_int("p", -1) == -1);  // a string member is not an integer
  CHECK(f.body_int("missing", -5) == -5);
  CHECK(f.cid.empty());
}

TEST_CASE("send_ack and error frames give their cid and code; escapes are decoded") {
  Frame f;
  REQUIRE(scan_frame(R"({"type":"send_ack","cid":"b-c\"1\\\u00e9\ud83d\ude00","conv":"d:1:2","seq":1,"ts":2})", f));
  CHECK(f.type == "send_ack");
  CHECK(f.cid == "b-c\"1\\\xC3\xA9\xF0\x9F\x98\x80");
  REQUIRE(scan_frame(R"({"type":"error","code":"rate_limited","message":"x","cid":"a-3"})", f));
  CHECK(f.code == "rate_limited");
  CHECK(f.cid == "a-3");
  CHECK(f.useq == 0);  // reset between frames
  CHECK(f.conv.empty());
}

TEST_CASE("members of other types are skipped, whatever they hold") {
  Frame f;
  REQUIRE(scan_frame(R"( { "x" : [1, -2.5e+3, "s", true, false, null, {"a":[[]]}], "useq" : 9 ,
                          "from": -4, "type": 5, "body": [1] } )",
                     f));
  CHECK(f.useq == 9);
  CHECK(f.from == 0);       // negative: not a user id
  CHECK(f.type.empty());    // not a string
  CHECK(f.body_int_count == 0);
}

TEST_CASE("a repeated member counts once, the last one, as in a DOM") {
  Frame f;
  REQUIRE(scan_frame(R"({"type":"msg","type":"read","useq":1,"useq":2})", f));
  CHECK(f.type == "read");
  CHECK(f.useq == 2);
  REQUIRE(scan_frame(R"({"useq":5,"useq":"x","from":3,"from":-1})", f));
  CHECK(f.useq == 0);
  CHECK(f.from == 0);
  REQUIRE(scan_frame(R"({"body":{"i":1,"t":7,"i":2}})", f));
  CHECK(f.body_int("i", -1) == 2);
  CHECK(f.body_int("t", -1) == 7);
  CHECK(f.body_int_count == 2);
  REQUIRE(scan_frame(R"({"body":{"i":1},"body":"x"})", f));
  CHECK(f.body_int("i", -1) == -1);
  REQUIRE(scan_frame(R"({"body":{"i":1},"body":{"t":3}})", f));
  CHECK(f.body_int("i", -1) == -1);
  CHECK(f.body_int("t", -1) == 3);
}

TEST_CASE("strings must be well-formed UTF-8, as the JSON parser requires") {
  Frame f;
  REQUIRE(scan_frame("{\"conv\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}", f));  // é € 😀
  CHECK(f.conv == "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  const char* bad[] = {
      "{\"conv\":\"\xFF\"}",              // never valid
      "{\"conv\":\"\xC3\"}",              // truncated
      "{\"conv\":\"\xC0\xAF\"}",          // overlong '/'
      "{\"conv\":\"\xE0\x80\xAF\"}",      // overlong, three bytes
      "{\"conv\":\"\xED\xA0\x80\"}",      // an encoded surrogate
      "{\"conv\":\"\xF4\x90\x80\x80\"}",  // above U+10FFFF
      "{\"x\":[\"\xC3\x28\"]}",           // a bad continuation byte, in a skipped value
  };
  for (auto* text : bad) {
    CAPTURE(text);
    CHECK_FALSE(scan_frame(text, f));
    CHECK_FALSE(json::parse(text, nullptr, false).is_object());  // the parser agrees
  }
}

TEST_CASE("integers past int64 and fractions are not integers") {
  Frame f;
  REQUIRE(scan_frame(R"({"useq":18446744073709551616,"body":{"i":1.5,"t":-9223372036854775808,"c":1e2}})", f));
  CHECK(f.useq == 0);
  CHECK(f.body_int("i", -1) == -1);
  CHECK(f.body_int("t", 0) == INT64_MIN);
  CHECK(f.body_int("c", -1) == -1);
}

TEST_CASE("what is not one well-formed JSON object is refused") {
  const char* bad[] = {
      "",
      "[]",
      "\"msg\"",
      "{",
      R"({"type":"msg")",
      R"({"type":"msg",})",
      R"({"type" "msg"})",
      R"({"type":"msg"} {})",
      R"({"type":"ms)",
      "{\"type\":\"a\nb\"}",          // a raw control character in a string
      R"({"type":"\x"})",             // an unknown escape
      R"({"type":"\ud800"})",         // a lone surrogate
      R"({"useq":01})",
      R"({"useq":-})",
      R"({"useq":1.})",
      R"({"useq":tru})",
      R"({"a":[1,]})",
  };
  for (auto* text : bad) {
    Frame f;
    CAPTURE(text);
    CHECK_FALSE(scan_frame(text, f));
    CHECK_FALSE(json::parse(text, nullptr, false).is_object());  // the parser agrees
  }
}

TEST_CASE("nesting deeper than the scanner's limit is refused, not recursed into") {
  std::string deep = R"({"a":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  Frame f;
  CHECK_FALSE(scan_frame(deep, f));
}
