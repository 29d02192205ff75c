#include "scenario.hpp"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>
#include <vector>

#include "client/http.hpp"
#include "proc_stats.hpp"

namespace imbench {

std::map<std::string, double> fetch_metrics(const Target& target) {
  std::map<std::string, double> out;
  imclient::Endpoint endpoint;
  endpoint.host = target.server.address().to_string();
  endpoint.port = target.server.port();
  try {
    auto response = imclient::http(endpoint, "GET", "/metrics", "", "", "application/json", std::chrono::seconds(10));
    if (response.status != 200) return out;
    std::istringstream lines(response.body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto space = line.rfind(' ');
      if (space == std::string::npos) continue;
      out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
  } catch (const std::exception&) {
  }
  return out;
}

bool wait_server_authenticated(const Target& target, double n, double limit_s) {
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(limit_s * 1000));
  while (Clock::now() < deadline) {
    auto metrics = fetch_metrics(target);
    if (metrics["imserver_connections_authenticated"] >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling an observable condition
  }
  return false;
}

std::string describe_usage(const nlohmann::json& phase) {
  auto number = [&](const char* key) -> std::string {
    auto it = phase.find(key);
    if (it == phase.end() || !it->is_number()) return "null";
    std::ostringstream v;
    v << std::fixed << std::setprecision(2) << it->get<double>();
    return v.str();
  };
  std::vector<std::pair<double, std::string>> threads;
  if (auto all = phase.find("server_threads_cpu_s"); all != phase.end() && all->is_object())
    for (const auto& [name, seconds] : all->items())
      if (seconds.is_number() && seconds.get<double>() >= 0.005) threads.emplace_back(seconds.get<double>(), name);
  std::sort(threads.rbegin(), threads.rend());
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << "CPU: server " << number("server_cpu_s") << " s";
  for (size_t i = 0; i < threads.size(); ++i)
    s << (i == 0 ? " (" : ", ") << threads[i].second << " " << threads[i].first << (i + 1 == threads.size() ? ")" : "");
  s << ", imbench " << number("bench_cpu_s") << " s";
  auto rss = phase.value("server_rss_kib", nlohmann::json());  // null without a server pid
  if (rss.is_object() && rss.value("start", nlohmann::json()).is_number() && rss.value("end", nlohmann::json()).is_number())
    s << "; server RSS " << rss["start"].get<int64_t>() / 1024 << " -> " << rss["end"].get<int64_t>() / 1024 << " MiB";
  return s.str();
}

namespace {

// resident_kib's -1 (unreadable) as JSON null, as for the CPU figures.
nlohmann::json rss_or_null(int64_t kib) { return kib >= 0 ? nlohmann::json(kib) : nlohmann::json(); }

}  // namespace

PhaseMeter::PhaseMeter(const RunContext& ctx) : ctx_(ctx) {}

void PhaseMeter::start() {
  metrics_ = fetch_metrics(ctx_.target);
  server_cpu_ = ctx_.server_pid > 0 ? cpu_seconds(ctx_.server_pid) : -1;
  server_rss_start_kib_ = ctx_.server_pid > 0 ? resident_kib(ctx_.server_pid) : -1;
  if (ctx_.server_pid > 0) server_threads_ = thread_cpu_seconds(ctx_.server_pid);
  own_cpu_ = own_cpu_seconds();
  started_ = Clock::now();
}

double PhaseMeter::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

nlohmann::json PhaseMeter::stop() {
  nlohmann::json out;
  out["wall_s"] = elapsed_s();
  double server_now = ctx_.server_pid > 0 ? cpu_seconds(ctx_.server_pid) : -1;
  out["server_cpu_s"] = server_cpu_ >= 0 && server_now >= 0 ? nlohmann::json(server_now - server_cpu_) : nlohmann::json();
  // Where the server's CPU went: which of its threads is the bottleneck (docs/BENCHMARKS.md).
  // Per thread id, then summed by name; a thread that ended during the phase is missing.
  std::map<std::string, double> by_name;
  if (ctx_.server_pid > 0)
    for (const auto& [tid, now] : thread_cpu_seconds(ctx_.server_pid)) {
      auto before = server_threads_.find(tid);
      by_name[now.name] += now.seconds - (before == server_threads_.end() ? 0.0 : before->second.seconds);
    }
  out["server_threads_cpu_s"] = by_name;
  out["bench_cpu_s"] = own_cpu_seconds() - own_cpu_;
  // What the load left resident (the connections are still open): with the start, how much a
  // scenario's traffic costs in memory, besides the idle scenario's per-connection figure.
  if (ctx_.server_pid > 0)
    out["server_rss_kib"] = {{"start", rss_or_null(server_rss_start_kib_)}, {"end", rss_or_null(resident_kib(ctx_.server_pid))}};
  else
    out["server_rss_kib"] = nullptr;
  auto after = fetch_metrics(ctx_.target);
  nlohmann::json counters = nlohmann::json::object();
  for (const char* name : {"imserver_messages_accepted_total", "imserver_deliveries_total", "imserver_retransmits_total",
                           "imserver_ack_timeouts_total", "imserver_frames_in_total", "imserver_frames_out_total",
                           "imserver_frames_rate_limited_total", "imserver_sends_rate_limited_total",
                           "imserver_reads_paused_total", "imserver_slow_client_closes_total"}) {
    if (after.count(name)) counters[name] = after[name] - metrics_[name];
  }
  out["server_counters"] = counters;
  // Other work on the machine skews every figure: record how busy it was.
  std::ifstream loadavg("/proc/loadavg");
  double one_minute = -1;
  loadavg >> one_minute;
  out["loadavg_1m"] = one_minute;
  return out;
}

}  // namespace imbench
