#pragma once
// Limits that protect the server from one source (issue 5): live frame connections per client
// address, and failed HTTP logins per username and per address (brute force). Thread-safe; used
// by sessions and handlers on any I/O or blocking-pool thread.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace im::net {

// Live WebSocket and raw-TCP connections per client address.
class ConnectionsPerAddress {
 public:
  // Counts one more connection from `address` unless it already has `limit` (0: no limit).
  bool try_enter(const std::string& address, int64_t limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& live = live_[address];
    if (limit > 0 && live >= static_cast<uint64_t>(limit)) {
      if (live == 0) live_.erase(address);
      return false;
    }
    ++live;
    return true;
  }
  // The end of a connection that try_enter counted.
  void leave(const std::string& address) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(address);
    if (it == live_.end()) return;
    if (--it->second == 0) live_.erase(it);
  }
  uint64_t live(const std::string& address) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(address);
    return it == live_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint64_t> live_;
};

// Failed attempts per key (a username or an address) in fixed one-minute windows. A key with
// `limit` failures in its current window is refused until the window ends, whatever the password:
// that is what stops guessing. Successful logins do not count, so many users logging in from one
// address (a NAT, a load test) are not refused. Memory is bounded: past kMaxKeys keys, expired
// windows are dropped, and if that is not enough the table starts over (and says so).
class FailureWindow {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxKeys = 100000;

  explicit FailureWindow(std::chrono::milliseconds window = std::chrono::minutes(1)) : window_(window) {}

  bool blocked(const std::string& key, int64_t limit, Clock::time_point now = Clock::now()) {
    if (limit <= 0) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = windows_.find(key);
    if (it == windows_.end()) return false;
    if (now - it->second.start >= window_) {
      windows_.erase(it);
      return false;
    }
    return it->second.failures >= static_cast<uint64_t>(limit);
  }

  // Returns false when the table had to start over (the caller may log it).
  bool record_failure(const std::string& key, Clock::time_point now = Clock::now()) {
    std::lock_guard<std::mutex> lock(mutex_);
    bool kept = true;
    if (windows_.size() >= kMaxKeys && !windows_.count(key)) {
      for (auto it = windows_.begin(); it != windows_.end();)
        it = now - it->second.start >= window_ ? windows_.erase(it) : std::next(it);
      if (windows_.size() >= kMaxKeys) {
        windows_.clear();
        kept = false;
      }
    }
    auto& w = windows_[key];
    if (w.failures == 0 || now - w.start >= window_) {
      w.start = now;
      w.failures = 0;
    }
    ++w.failures;
    return kept;
  }

 private:
  struct Window {
    Clock::time_point start;
    uint64_t failures = 0;
  };
  std::chrono::milliseconds window_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace im::net
