// Counts down the events a scenario expects (acks, deliveries) from any io thread and wakes the
// main thread when all arrived or when the time bound runs out.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "stats.hpp"

namespace imbench {

class Progress {
 public:
  explicit Progress(int64_t expected) : remaining_(expected) {}

  // One expected event arrived.
  void done_one() {
    if (remaining_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_at_ = Clock::now();
      finished_ = true;
      cv_.notify_all();
    }
  }
  // True when everything arrived before `deadline`.
  bool wait_until(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_until(lock, deadline, [&] { return finished_; });
  }
  int64_t remaining() const { return remaining_.load(); }
  // When the last expected event arrived (valid after wait_until returned true).
  Clock::time_point finished_at() {
    std::lock_guard<std::mutex> lock(mutex_);
    return finished_at_;
  }

 private:
  std::atomic<int64_t> remaining_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  Clock::time_point finished_at_{};
};

}  // namespace imbench
