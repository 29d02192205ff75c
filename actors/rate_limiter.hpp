#pragma once
// A token bucket: `rate` tokens per second, holding at most `burst`.

#include <algorithm>
#include <chrono>

namespace im {

class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes one token if there is one.
  bool try_take(std::chrono::steady_clock::time_point now) {
    if (rate_ <= 0) return true;  // a rate of 0 disables the limit
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace im
