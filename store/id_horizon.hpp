#pragma once
// The highest id a counter (users, groups) is known to have handed out. Ids are never reused and
// such counters never go down, so a value once read stays a lower bound whatever another process
// writes later: an id at or below it exists without a store read (a PostgreSQL round trip, a
// LevelDB counter lookup), and only a larger one costs a read.

#include <atomic>
#include <cstdint>
#include <string>

#include "store/store.hpp"

namespace im {

class IdHorizon {
 public:
  IdHorizon(const Store& store, std::string counter_key) : store_(store), key_(std::move(counter_key)) {}

  // Whether `id` was handed out: 1 <= id <= the counter.
  bool covers(uint64_t id) const {
    if (id == 0) return false;
    auto known = known_.load(std::memory_order_relaxed);
    if (id <= known) return true;
    auto newest = store_.counter(key_);
    while (newest > known && !known_.compare_exchange_weak(known, newest, std::memory_order_relaxed)) {
    }
    return id <= newest;
  }

 private:
  const Store& store_;
  std::string key_;
  mutable std::atomic<uint64_t> known_{0};
};

}  // namespace im
