// Latency samples and their percentiles, and the small helpers every scenario shares.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace imbench {

using Clock = std::chrono::steady_clock;

// Microseconds on the steady clock: comparable across the threads (and forked processes) of one
// machine, so a timestamp carried in a message body measures send-to-receive latency.
inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

// Percentiles of a set of durations in microseconds. Samples are appended per connection (one
// thread each) and merged once the run is over.
class Samples {
 public:
  void add(int64_t us) { values_.push_back(us < 0 ? 0 : us); }
  void merge(const Samples& other) { values_.insert(values_.end(), other.values_.begin(), other.values_.end()); }
  size_t count() const { return values_.size(); }
  // {"count","p50","p90","p99","max"} in milliseconds (three decimals); sorts the samples.
  nlohmann::json summary_ms();

 private:
  std::vector<int64_t> values_;
};

// "p50 1.234 ms, p90 ..., p99 ..., max ..." from a Samples::summary_ms() object.
std::string describe_latency(const nlohmann::json& summary);

// 1234567 -> "1,234,567".
std::string thousands(double value);

}  // namespace imbench
