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
// that is what stops guessing. An attempt counts from its start, before its password is hashed:
// attempts still being checked count as failures until they turn out otherwise, so a client that
// sends many guesses at once gets no more checked than one that sends them one after the other.
// Successful logins do not count once they are done, so many users logging in from one address (a
// NAT, a load test) are refused only while more than `limit` of them are being checked at the same
// moment. Memory is bounded: past kMaxKeys keys, expired windows without attempts in progress are
// dropped, and if that is not enough the table starts over (and says so).
class FailureWindow {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxKeys = 100000;

  explicit FailureWindow(std::chrono::milliseconds window = std::chrono::minutes(1)) : window_(window) {}

  enum class Begin { allowed, refused, table_reset };

  // Starts an attempt for `key` unless its failures in the current window plus the attempts in
  // progress reach `limit` (0: no limit, nothing is counted). Every allowed attempt (table_reset
  // included) must be ended with end().
  Begin begin(const std::string& key, int64_t limit, Clock::time_point now = Clock::now()) {
    if (limit <= 0) return Begin::allowed;
    std::lock_guard<std::mutex> lock(mutex_);
    bool reset = false;
    if (windows_.size() >= kMaxKeys && !windows_.count(key)) {
      for (auto it = windows_.begin(); it != windows_.end();)
        it = it->second.pending == 0 && now - it->second.start >= window_ ? windows_.erase(it) : std::next(it);
      if (windows_.size() >= kMaxKeys) {
        windows_.clear();
        reset = true;
      }
    }
    auto& w = windows_[key];
    roll(w, now);
    if (w.failures + w.pending >= static_cast<uint64_t>(limit)) {
      if (w.failures == 0 && w.pending == 0) windows_.erase(key);
      return Begin::refused;
    }
    ++w.pending;
    return reset ? Begin::table_reset : Begin::allowed;
  }

  // Ends an attempt that begin() allowed under the same `limit`: a failure counts in the window.
  void end(const std::string& key, int64_t limit, bool failed, Clock::time_point now = Clock::now()) {
    if (limit <= 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = windows_.find(key);
    if (it == windows_.end()) return;  // the table started over meanwhile
    auto& w = it->second;
    if (w.pending > 0) --w.pending;
    roll(w, now);
    if (failed) {
      if (w.failures == 0) w.start = now;
      ++w.failures;
    }
    if (w.failures == 0 && w.pending == 0) windows_.erase(it);
  }

 private:
  struct Window {
    Clock::time_point start;
    uint64_t failures = 0;
    uint64_t pending = 0;  // attempts begun and not yet ended
  };

  // Under mutex_: a window that is over starts again with no failures.
  void roll(Window& w, Clock::time_point now) {
    if (w.failures > 0 && now - w.start >= window_) w.failures = 0;
  }

  std::chrono::milliseconds window_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace im::net
