#include <doctest/doctest.h>

#include "protocol/raw_framer.hpp"

using im::Sniffed;

TEST_CASE("sniff_transport tells HTTP from raw TCP on the first bytes") {
  struct Row {
    std::string bytes;
    Sniffed verdict;
  };
  const Row rows[] = {
      {"", Sniffed::need_more},
      {"G", Sniffed::need_more},
      {"GE", Sniffed::need_more},
      {"GET", Sniffed::need_more},
      {"GET ", Sniffed::http},
      {"GET /ws HTTP/1.1\r\n", Sniffed::http},
      {"POST /api/login", Sniffed::http},
      {"PUT ", Sniffed::http},
      {"DELETE ", Sniffed::http},
      {"HEAD ", Sniffed::http},
      {"OPTIONS * HTTP/1.1", Sniffed::http},
      {"OPTION", Sniffed::need_more},
      {"GETX", Sniffed::raw_tcp},
      {"get ", Sniffed::raw_tcp},
      {std::string("\0\0\0\x10", 4), Sniffed::raw_tcp},
      {"{", Sniffed::raw_tcp},
      {"P", Sniffed::need_more},
      {"PA", Sniffed::raw_tcp},
  };
  for (const auto& row : rows) {
    CAPTURE(row.bytes);
    CHECK(im::sniff_transport(row.bytes) == row.verdict);
  }
}

TEST_CASE("parse_length_prefix enforces 1 <= N <= max") {
  const unsigned char zero[4] = {0, 0, 0, 0};
  const unsigned char one[4] = {0, 0, 0, 1};
  const unsigned char mib[4] = {0, 0x10, 0, 0};
  const unsigned char over[4] = {0, 0x10, 0, 1};
  const unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
  CHECK(im::parse_length_prefix(zero, 1 << 20).status == im::LengthStatus::empty);
  CHECK(im::parse_length_prefix(one, 1 << 20).status == im::LengthStatus::ok);
  CHECK(im::parse_length_prefix(mib, 1 << 20).status == im::LengthStatus::ok);
  CHECK(im::parse_length_prefix(mib, 1 << 20).length == (1u << 20));
  CHECK(im::parse_length_prefix(over, 1 << 20).status == im::LengthStatus::too_large);
  auto h = im::parse_length_prefix(huge, 1 << 20);
  CHECK(h.status == im::LengthStatus::too_large);
  CHECK(h.length == 0xffffffffull);
}

TEST_CASE("length_prefixed writes big-endian length then payload") {
  auto framed = im::length_prefixed("abc");
  CHECK(framed == std::string("\0\0\0\x03" "abc", 7));
  std::string big(300, 'x');
  auto f2 = im::length_prefixed(big);
  CHECK(static_cast<unsigned char>(f2[2]) == 1);
  CHECK(static_cast<unsigned char>(f2[3]) == 44);
}

TEST_CASE("append_length_prefixed frames one payload after another in one buffer") {
  std::string batch;
  im::append_length_prefixed(batch, "ab");
  im::append_length_prefixed(batch, std::string(70000, 'y'));
  REQUIRE(batch.size() == 4 + 2 + 4 + 70000);
  CHECK(batch.substr(0, 6) == std::string("\0\0\0\x02" "ab", 6));
  // 70000 = 0x00011170
  CHECK(batch.substr(6, 4) == std::string("\x00\x01\x11\x70", 4));
  CHECK(batch.find_first_not_of('y', 10) == std::string::npos);
}
