// store/u64_set: the dedup index's hash set must hold every value inserted, through its growth,
// and nothing else; a false "no" would let a resend store its message twice.

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <utility>
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
    if ((i & (i + 1)) == 0) {  // after 1, 2, 4, 8, ... values (each growth lies between two checks)
      for (size_t j = 0; j <= i; ++j) REQUIRE(set.contains(values[j]));
    }
  }
  CHECK(set.size() == values.size());
  for (auto v : values) CHECK(set.contains(v));
  for (auto v : values) CHECK_FALSE(set.contains(v & ~uint64_t{1}));
}

TEST_CASE("U64Set: values that share their low or their high bits are all found") {
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

TEST_CASE("U64Set: an absent value is reported absent when the table is as full as it gets") {
  // 16 slots take 12 values before the 13th grows the table: probes for absent values must still
  // end, on the free slots that the 3/4 bound keeps.
  U64Set set;
  for (uint64_t v = 1; v <= 12; ++v) set.insert(v * 0x100000001ull);
  CHECK(set.size() == 12);
  for (uint64_t v = 13; v <= 2000; ++v) CHECK_FALSE(set.contains(v * 0x100000001ull));
  set.insert(5 * 0x100000001ull);  // already there: no second copy
  CHECK(set.size() == 12);
  // As many values as the first table has slots: it must have grown, or these probes never end
  // (a hang, which ctest's timeout turns into a failure).
  for (uint64_t v = 13; v <= 16; ++v) set.insert(v * 0x100000001ull);
  CHECK(set.size() == 16);
  for (uint64_t v = 17; v <= 2000; ++v) CHECK_FALSE(set.contains(v * 0x100000001ull));
}

TEST_CASE("U64Set: a moved-from set is empty, and the moved-to set has every value") {
  U64Set from;
  for (uint64_t v = 0; v < 100; ++v) from.insert(v);
  U64Set to(std::move(from));
  CHECK(to.size() == 100);
  CHECK(to.contains(0));
  CHECK(to.contains(99));
  CHECK(from.size() == 0);  // NOLINT(bugprone-use-after-move): the documented state
  CHECK_FALSE(from.contains(0));
  CHECK_FALSE(from.contains(42));
  from.insert(7);
  CHECK(from.contains(7));
  U64Set assigned;
  assigned.insert(1);
  assigned = std::move(to);
  CHECK(assigned.size() == 100);
  CHECK_FALSE(assigned.contains(100));
}
