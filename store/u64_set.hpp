#pragma once
// A set of 64-bit values that only grows: the dedup index's cid hashes (dedup_index.hpp).
//
// Open addressing with linear probing in one array. A lookup reads one slot, or a few adjacent
// ones, where std::unordered_set reads a bucket, a node and often the next node: separate cache
// misses, and the largest share of the dedup index's cost on the send path (docs/BENCHMARKS.md,
// "The dedup index's hash sets are flat"). A value takes 8 bytes of a slot array kept at most 3/4 full, against a node and a
// bucket pointer (about 40 bytes with the allocator's overhead) in std::unordered_set.
//
// No erase: the index drops a user's whole set instead.

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace im {

class U64Set {
 public:
  U64Set() = default;
  // A moved-from set is empty.
  U64Set(U64Set&& other) noexcept { swap(other); }
  U64Set& operator=(U64Set&& other) noexcept {
    U64Set taken(std::move(other));
    swap(taken);
    return *this;
  }
  U64Set(const U64Set&) = delete;
  U64Set& operator=(const U64Set&) = delete;

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
    if ((stored_ + 1) * 4 > slots_.size() * 3) {
      if (contains(value)) return;  // no growth for a value already there
      grow();
    }
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

  // Allocates before it changes anything: if the allocation throws, the set is as it was.
  void grow() {
    size_t count = slots_.empty() ? kFirstSlots : slots_.size() * 2;
    std::vector<uint64_t> bigger(count, kEmpty);
    bigger.swap(slots_);
    shift_ = 64;
    for (size_t n = count; n > 1; n >>= 1) --shift_;
    stored_ = 0;
    for (auto value : bigger)
      if (value != kEmpty) place(value);
  }

  void swap(U64Set& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(shift_, other.shift_);
    std::swap(stored_, other.stored_);
    std::swap(has_empty_value_, other.has_empty_value_);
  }

  std::vector<uint64_t> slots_;  // a power of two in size, or empty
  unsigned shift_ = 64;          // 64 - log2(slots_.size())
  size_t stored_ = 0;            // values in slots_
  bool has_empty_value_ = false;
};

}  // namespace im
