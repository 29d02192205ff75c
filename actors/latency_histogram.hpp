#pragma once
// A fixed-bucket latency histogram that any thread may update without locks, for the metrics
// endpoint (Prometheus histogram: cumulative buckets, sum and count). Relaxed atomics: a reader
// may see a sample in `count` before it shows in a bucket; it is a statistic, not an invariant.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace im {

class LatencyHistogram {
 public:
  // Upper bounds of the buckets in microseconds; a last, implicit bucket is +Inf.
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
      1000000, 2500000, 5000000};

  void observe_us(uint64_t micros) {
    size_t i = 0;
    while (i < kBoundsUs.size() && micros > kBoundsUs[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(micros, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> elapsed) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    observe_us(us < 0 ? 0 : static_cast<uint64_t>(us));
  }

  // Samples in bucket i alone (not cumulative); i == kBoundsUs.size() is the +Inf bucket.
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace im
