#pragma once
// Per-user and per-address rates of the requests that cost others something (issue 20): group
// creations, users added to groups and friend requests per user (each puts events in other users'
// inboxes), and registrations per client address (each costs an Argon2id hash). Thread-safe; used
// by HTTP handlers on any I/O or blocking-pool thread.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <string>
#include <unordered_map>

namespace im::net {

// A token bucket per key: `per_min` tokens a minute, holding at most `per_min` (a burst of one
// minute's worth). A request costs `cost` tokens (at least 1). It is allowed when the bucket holds
// that many, or when the bucket is full: a request larger than the whole bucket (adding more users
// than the limit at once) is then allowed and leaves the bucket in debt, so its sender waits as long
// as the cost takes to refill. Memory is bounded: past kMaxKeys keys, full buckets (which are the
// same as absent ones) are dropped, and if that is not enough the table starts over (and says so).
class RatePerKey {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxKeys = 100000;

  // Returns whether the request may go ahead, and if so takes its cost. `per_min` 0: no limit.
  bool try_take(const std::string& key, int64_t per_min, int64_t cost = 1, Clock::time_point now = Clock::now()) {
    if (per_min <= 0) return true;
    cost = std::max<int64_t>(cost, 1);
    const double capacity = static_cast<double>(per_min);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
      if (buckets_.size() >= kMaxKeys) make_room(capacity, now);
      it = buckets_.emplace(key, Bucket{capacity, now}).first;
    }
    auto& b = it->second;
    b.tokens = std::min(capacity, b.tokens + refill(capacity, now - b.last));
    b.last = now;
    if (b.tokens < static_cast<double>(cost) && b.tokens < capacity) return false;
    b.tokens -= static_cast<double>(cost);
    return true;
  }

  // Whether the table had to start over since the last call (for a log line).
  bool take_overflowed() {
    std::lock_guard<std::mutex> lock(mutex_);
    bool was = overflowed_;
    overflowed_ = false;
    return was;
  }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };

  static double refill(double per_min, Clock::duration elapsed) {
    return per_min * std::chrono::duration<double>(elapsed).count() / 60.0;
  }

  // Under mutex_.
  void make_room(double capacity, Clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();)
      it = it->second.tokens + refill(capacity, now - it->second.last) >= capacity ? buckets_.erase(it)
                                                                                      : std::next(it);
    if (buckets_.size() >= kMaxKeys) {
      buckets_.clear();
      overflowed_ = true;
    }
  }

  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  bool overflowed_ = false;
};

}  // namespace im::net
