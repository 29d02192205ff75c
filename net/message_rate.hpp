#pragma once
// messages_per_s of GET /admin/status: the rate of the messages_accepted counter over a sliding
// window of samples taken when someone asks (imctl top asks every second). Samples are at least
// a second apart and the oldest one kept is at most ~10 s old, so with regular polling this is
// the rate over the last ten seconds; asked rarely, it is the average since the previous ask.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace im::net {

class MessageRate {
 public:
  using Clock = std::chrono::steady_clock;

  explicit MessageRate(Clock::time_point started) { samples_.emplace_back(started, 0); }

  double per_second(uint64_t total, Clock::time_point now = Clock::now()) {
    using std::chrono::seconds;
    std::lock_guard<std::mutex> lock(mutex_);
    while (samples_.size() > 1 && samples_[1].first <= now - seconds(10)) samples_.pop_front();
    const auto [oldest_time, oldest_total] = samples_.front();
    if (now - samples_.back().first >= seconds(1)) samples_.emplace_back(now, total);
    auto elapsed = std::chrono::duration<double>(now - oldest_time).count();
    if (elapsed < 0.001 || total < oldest_total) return 0.0;
    return static_cast<double>(total - oldest_total) / elapsed;
  }

 private:
  std::mutex mutex_;
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;
};

}  // namespace im::net
