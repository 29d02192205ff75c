// What every scenario gets and gives back, and the measuring helpers they share.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "options.hpp"
#include "proc_stats.hpp"
#include "stats.hpp"
#include "target.hpp"
#include "ws_client.hpp"

namespace imbench {

struct RunContext {
  BenchOptions options;
  Target target;
  pid_t server_pid = 0;  // 0: unknown (CPU and memory figures are then omitted)
  std::string prefix;    // user names and cids of this run start with it
};

struct ScenarioResult {
  nlohmann::json data;  // the --json line
  std::string summary;  // the human summary
  bool ok = false;      // every check passed (no loss, no duplicates, nothing left unfinished)
};

ScenarioResult run_idle(const RunContext& ctx);
ScenarioResult run_direct(const RunContext& ctx);
ScenarioResult run_group(const RunContext& ctx);
ScenarioResult run_churn(const RunContext& ctx);
// Flooders sending as fast as they can while others chat (scenario_flood.cpp).
ScenarioResult run_flood(const RunContext& ctx);
// Need no server: the CPU price of one loopback hop on this machine (scenario_floor.cpp), and
// with --rate the latency and CPU of a paced direct run's transfers through a relay that does no
// work (scenario_floor_paced.cpp). run_floor runs the second when --rate is set.
ScenarioResult run_floor(const RunContext& ctx);
ScenarioResult run_paced_floor(const RunContext& ctx);

inline WriteMode write_mode(const BenchOptions& o) {
  return o.write_batching ? WriteMode::batched : WriteMode::one_frame_per_write;
}

// CPU seconds of the server and of imbench over one measured phase, and the server's counters.
class PhaseMeter {
 public:
  PhaseMeter(const RunContext& ctx);
  void start();
  // {"wall_s","server_cpu_s","server_threads_cpu_s":{thread name: s},"bench_cpu_s",
  //  "server_rss_kib":{"start","end"} (VmRSS; null without a server pid),
  //  "server_counters":{retransmits, ack_timeouts, ...}}
  nlohmann::json stop();
  double elapsed_s() const;

 private:
  const RunContext& ctx_;
  Clock::time_point started_;
  double server_cpu_ = -1, own_cpu_ = 0;
  int64_t server_rss_start_kib_ = -1;
  std::map<pid_t, ThreadCpu> server_threads_;
  std::map<std::string, double> metrics_;
};

// "CPU: server S s (thread T s, ...), imbench B s; server RSS A -> B MiB" from PhaseMeter::stop()'s
// figures, the server's threads busiest first.
std::string describe_usage(const nlohmann::json& phase);

// The server's /metrics as name -> value (labelled series keep their labels in the name).
// Empty when it cannot be fetched.
std::map<std::string, double> fetch_metrics(const Target& target);

// Waits (bounded by limit_s, polling /metrics) until imserver_connections_authenticated >= n.
bool wait_server_authenticated(const Target& target, double n, double limit_s);

}  // namespace imbench
