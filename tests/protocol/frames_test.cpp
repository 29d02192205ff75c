// protocol/frames: the send_ack frame, serialized without a JSON object on the hot path, is the
// text the object form would give.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "protocol/frames.hpp"

using nlohmann::json;

TEST_CASE("send_ack text equals the JSON object's dump, with and without rid, escapes included") {
  struct Case {
    std::string cid, conv;
    uint64_t seq;
    int64_t ts;
    std::optional<std::string> rid;
  };
  for (const auto& c : {Case{"c-1", "u:1:2", 1, 1700000000123, std::nullopt},
                        Case{"quote\" back\\slash \xc3\xa9 \x01", "42", 18446744073709551615ull, 0, "r\"1"},
                        Case{"", "u:3:4", 7, -5, ""}}) {
    json expected{{"type", "send_ack"}, {"cid", c.cid}, {"conv", c.conv}, {"seq", c.seq}, {"ts", c.ts}};
    if (c.rid) expected["rid"] = *c.rid;
    auto text = im::frames::send_ack(c.cid, c.conv, c.seq, c.ts, c.rid);
    CHECK(text == expected.dump());
    CHECK(json::parse(text) == expected);
  }
}
