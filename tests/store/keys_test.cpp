#include <doctest/doctest.h>

#include "store/keys.hpp"

using namespace im;

TEST_CASE("u64 encoding is big-endian so byte order is numeric order") {
  uint64_t values[] = {0, 1, 255, 256, 65535, 1ull << 32, UINT64_MAX - 1, UINT64_MAX};
  std::string previous;
  for (auto v : values) {
    std::string s;
    keys::put_u64(s, v);
    REQUIRE(s.size() == 8);
    CHECK(keys::get_u64(s) == v);
    if (!previous.empty()) CHECK(previous < s);
    previous = s;
  }
}

TEST_CASE("inbox keys sort by user, then useq") {
  CHECK(keys::inbox(1, 2) < keys::inbox(1, 10));
  CHECK(keys::inbox(1, UINT64_MAX) < keys::inbox(2, 1));
  CHECK(keys::inbox(1, 5).substr(0, 9) == keys::inbox_prefix(1));
  CHECK(keys::inbox(1, 5) < keys::prefix_end(keys::inbox_prefix(1)));
  CHECK(keys::inbox(2, 0) >= keys::prefix_end(keys::inbox_prefix(1)));
}

TEST_CASE("conversation round trip") {
  Conv convs[] = {Conv::direct(3, 9), Conv::group(42), Conv::direct(1, UINT64_MAX)};
  for (const auto& c : convs) {
    std::string s;
    keys::put_conv(s, c);
    CHECK(s.size() == 17);
    CHECK(keys::get_conv(s) == c);
  }
  CHECK(keys::message(Conv::direct(1, 2), 3) < keys::message(Conv::direct(1, 2), 4));
  CHECK(keys::message(Conv::direct(1, 2), UINT64_MAX) < keys::message(Conv::direct(1, 3), 0));
}

TEST_CASE("prefixes are distinct and fixed (on-disk format)") {
  CHECK(keys::user(1)[0] == 0x02);
  CHECK(keys::username("a")[0] == 0x03);
  CHECK(keys::token("h")[0] == 0x04);
  CHECK(keys::inbox(1, 1)[0] == 0x10);
  CHECK(keys::device(1, "d")[0] == 0x12);
  CHECK(keys::dedup(1, "c")[0] == 0x13);
  CHECK(keys::message(Conv::group(1), 1)[0] == 0x20);
  CHECK(keys::counter_inbox_head(1) == std::string("\x01I\0\0\0\0\0\0\0\x01", 10));
}

TEST_CASE("prefix_end") {
  CHECK(keys::prefix_end("ab") == "ac");
  CHECK(keys::prefix_end(std::string("a\xff", 2)) == "b");
  CHECK(keys::prefix_end(std::string("\xff\xff", 2)).empty());
}
