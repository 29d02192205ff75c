#pragma once
// A set of 64-bit values that only grows: the dedup index's cid hashes (dedup_index.hpp).
//
// Open addressing with linear probing in one array. A lookup reads one slot, or a few adjacent
// ones, where std::unordered_set reads a bucket, a node and often the next node: separate cache
// misses, and the largest share of the dedup index's cost on the send path (docs/BENCHMARKS.md,
// round 9). A value takes 8 bytes of a slot array kept at most 3/4 full, against a node and a
// bucket pointer (about 40 bytes with the allocator's overhead) in std::unordered_set.
//
// No erase: the index drops a user's whole set instead.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace im {

class U64Set {
 public:
  bool contains(uint64_t value) const {
    if (value == kEmpty) return has_empty_value_;
    if (slots_.empty()) return false;
    for (size_t i = home(value);; i = (i + 1) & mask()) {
      if (slots_[i] == value) return true;
      if (slots_[i] == kEmpty) return false;
    }
  }

  void insert(uint64_t value) {
    if (value == kEmpty) {
      has_empty_value_ = true;
      return;
    }
    if ((stored_ + 1) * 4 > slots_.size() * 3) grow();
    place(value);
  }

  size_t size() const { return stored_ + (has_empty_value_ ? 1 : 0); }

 private:
  static constexpr uint64_t kEmpty = 0;  // marks a free slot; the value 0 is kept aside
  static constexpr size_t kFirstSlots = 16;

  size_t mask() const { return slots_.size() - 1; }
  // Fibonacci hashing: the top bits of value times 2^64/phi, so that values that differ only in
  // their high bits (or low bits) still spread over the table.
  size_t home(uint64_t value) const { return static_cast<size_t>((value * 0x9E3779B97F4A7C15ull) >> shift_); }

  void place(uint64_t value) {
    for (size_t i = home(value);; i = (i + 1) & mask()) {
      if (slots_[i] == value) return;
      if (slots_[i] == kEmpty) {
        slots_[i] = value;
        ++stored_;
        return;
      }
    }
  }

  void grow() {
    std::vector<uint64_t> old;
    old.swap(slots_);
    size_t count = old.empty() ? kFirstSlots : old.size() * 2;
    slots_.assign(count, kEmpty);
    shift_ = 64;
    for (size_t n = count; n > 1; n >>= 1) --shift_;
    stored_ = 0;
    for (auto value : old)
      if (value != kEmpty) place(value);
  }

  std::vector<uint64_t> slots_;  // a power of two in size, or empty
  unsigned shift_ = 64;          // 64 - log2(slots_.size())
  size_t stored_ = 0;            // values in slots_
  bool has_empty_value_ = false;
};

}  // namespace im
