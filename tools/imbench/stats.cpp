#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace imbench {

namespace {

double ms3(int64_t us) { return std::round(static_cast<double>(us)) / 1000.0; }

}  // namespace

nlohmann::json Samples::summary_ms() {
  nlohmann::json out = {{"count", values_.size()}};
  if (values_.empty()) return out;
  std::sort(values_.begin(), values_.end());
  auto at = [&](double q) {
    auto index = static_cast<size_t>(std::ceil(q * static_cast<double>(values_.size()))) ;
    return values_[std::min(values_.size() - 1, index == 0 ? 0 : index - 1)];
  };
  out["p50"] = ms3(at(0.50));
  out["p90"] = ms3(at(0.90));
  out["p99"] = ms3(at(0.99));
  out["max"] = ms3(values_.back());
  return out;
}

std::string describe_latency(const nlohmann::json& s) {
  if (!s.contains("p50")) return "no samples";
  char text[160];
  std::snprintf(text, sizeof(text), "p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms (%zu samples)",
                s["p50"].get<double>(), s["p90"].get<double>(), s["p99"].get<double>(),
                s["max"].get<double>(), s["count"].get<size_t>());
  return text;
}

std::string thousands(double value) {
  auto digits = std::to_string(static_cast<long long>(std::llround(value)));
  std::string out;
  int n = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (n > 0 && n % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++n;
  }
  return out;
}

}  // namespace imbench
