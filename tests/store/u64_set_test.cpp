// store/u64_set: the dedup index's hash set must hold every value inserted, through its growth,
// and nothing else; a false "no" would let a resend store its message twice.

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "store/u64_set.hpp"

using im::U64Set;

TEST_CASE("U64Set: empty, single values, duplicates and the value 0") {
  U64Set set;
  CHECK(set.size() == 0);
  CHECK_FALSE(set.contains(0));
  CHECK_FALSE(set.contains(42));
  set.insert(42);
  set.insert(42);
  CHECK(set.contains(42));
  CHECK(set.size() == 1);
  CHECK_FALSE(set.contains(0));  // 0 marks a free slot inside; it is not a member until inserted
  set.insert(0);
  CHECK(set.contains(0));
  CHECK(set.size() == 2);
  set.insert(0);
  CHECK(set.size() == 2);
}

TEST_CASE("U64Set keeps every value through its growth, and holds no other") {
  std::mt19937_64 random(7);
  std::vector<uint64_t> values(100000);
  for (auto& v : values) v = random() | 1;  // odd: the even probes below are not members
  U64Set set;
  for (size_t i = 0; i < values.size(); ++i) {
    set.insert(values[i]);
    if ((i & (i + 1)) == 0) {  // after each power of two (around every growth): all still there
      for (size_t j = 0; j <= i; ++j) REQUIRE(set.contains(values[j]));
    }
  }
  CHECK(set.size() == values.size());
  for (auto v : values) CHECK(set.contains(v));
  for (auto v : values) CHECK_FALSE(set.contains(v & ~uint64_t{1}));
}

TEST_CASE("U64Set: values that share their low or their high bits spread and are all found") {
  U64Set low, high;
  for (uint64_t i = 1; i <= 5000; ++i) {
    low.insert(i << 32);    // low 32 bits all zero
    high.insert(i);         // high 32 bits all zero
  }
  CHECK(low.size() == 5000);
  CHECK(high.size() == 5000);
  for (uint64_t i = 1; i <= 5000; ++i) {
    CHECK(low.contains(i << 32));
    CHECK(high.contains(i));
  }
  CHECK_FALSE(low.contains(5001ull << 32));
  CHECK_FALSE(high.contains(5001));
}
