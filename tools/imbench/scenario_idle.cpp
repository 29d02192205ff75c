// idle: C authenticated WebSocket connections held open with heartbeats. Reports the connect+auth
// rate and the server's resident memory per connection: VmRSS before connecting (after the users
// were registered) and once the server counts every connection as authenticated. With --procs N
// the connections are split over N forked worker processes, each with its own fd limit.

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <thread>

#include "accounts.hpp"
#include "fleet.hpp"
#include "proc_stats.hpp"
#include "scenario.hpp"

namespace imbench {

namespace {

using nlohmann::json;

// Called once this worker's connections are up, with {"authenticated","failed","connect_s",
// "latency_us":[...]}; returns when the connections should be closed.
using ReadyHook = std::function<void(const json& ready)>;

// Opens accounts[begin, end) as idle connections, calls `ready`, then closes them. Returns
// {"closed_early","pongs","unclosed","first_error"}.
json idle_worker(const RunContext& ctx, const std::vector<BenchAccount>& accounts, size_t begin, size_t end,
                 const ReadyHook& ready) {
  auto& o = ctx.options;
  IoPool pool(o.threads);
  Fleet fleet(pool, ctx.target, begin, write_mode(o));
  std::vector<std::string> frames;
  for (size_t i = begin; i < end; ++i) frames.push_back(auth_frame(accounts[i].token, "idle"));
  fleet.connect(frames, static_cast<size_t>(o.connect_concurrency), o.timeout_ms, o.heartbeat_ms, o.duration_s,
                [](size_t, WsClient& client) {
                  // Idle connections get no inbox events; anything else is just dropped.
                  client.set_frame_handler([](const Frame&) {});
                });
  json r = {{"authenticated", fleet.authenticated()}, {"failed", fleet.failed()}, {"connect_s", fleet.connect_seconds()},
            {"first_error", fleet.first_error()}};
  Samples copy = fleet.connect_latency();
  r["latency"] = copy.summary_ms();
  ready(r);
  size_t closed_early = fleet.closed_early();
  size_t unclosed = fleet.close_all(30);
  pool.stop();
  return {{"closed_early", closed_early}, {"pongs", fleet.pongs()}, {"unclosed", unclosed}};
}

std::string read_line(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1) {
    if (c == '\n') return line;
    line.push_back(c);
  }
  return line;
}

void write_line(int fd, const std::string& text) {
  std::string line = text + "\n";
  size_t off = 0;
  while (off < line.size()) {
    auto n = write(fd, line.data() + off, line.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

ScenarioResult run_idle(const RunContext& ctx) {
  auto& o = ctx.options;
  size_t count = static_cast<size_t>(o.connections);
  size_t procs = static_cast<size_t>(std::max(1, o.procs));
  size_t per_proc = (count + procs - 1) / procs;
  auto limit = open_files_limit();
  if (limit > 0 && static_cast<int64_t>(per_proc) + 64 > limit)
    throw std::runtime_error(std::to_string(per_proc) + " connections per process exceed the open-file limit " +
                             std::to_string(limit) + " (less 64 for imbench itself): use more --procs");
  std::vector<BenchAccount> accounts;
  {
    IoPool pool(o.threads);
    accounts = register_users(pool, ctx.target, ctx.prefix, o.password, count, static_cast<size_t>(o.setup_concurrency),
                              o.timeout_ms, std::max(120.0, o.duration_s));
  }  // no io threads may be running across fork()
  int64_t rss_before = ctx.server_pid > 0 ? resident_kib(ctx.server_pid) : -1;
  PhaseMeter meter(ctx);
  meter.start();
  auto started = Clock::now();

  size_t authenticated = 0, failed = 0;
  std::string first_error;
  double connect_s = 0;
  json latency;
  int64_t rss_after = -1, rss_held = -1;
  bool server_saw_all = false;
  // Runs once every worker is connected: sample the server, hold, sample again.
  auto measure_and_hold = [&](const std::vector<json>& readies) {
    for (auto& r : readies) {
      authenticated += r["authenticated"].get<size_t>();
      failed += r["failed"].get<size_t>();
      if (first_error.empty()) first_error = r["first_error"].get<std::string>();
      latency = r["latency"];  // per-worker percentiles; with one worker they are exact
    }
    connect_s = std::chrono::duration<double>(Clock::now() - started).count();
    server_saw_all = wait_server_authenticated(ctx.target, static_cast<double>(authenticated), 30);
    if (ctx.server_pid > 0) rss_after = resident_kib(ctx.server_pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(o.hold_s * 1000)));  // the hold is the measurement
    if (ctx.server_pid > 0) rss_held = resident_kib(ctx.server_pid);
  };

  std::vector<json> finals;
  if (procs == 1) {
    finals.push_back(idle_worker(ctx, accounts, 0, count, [&](const json& r) { measure_and_hold({r}); }));
  } else {
    std::fflush(nullptr);
    std::vector<pid_t> children;
    std::vector<int> from_child, to_child;
    for (size_t p = 0; p < procs; ++p) {
      size_t begin = std::min(count, p * per_proc), end = std::min(count, begin + per_proc);
      int up[2], down[2];
      if (pipe(up) != 0 || pipe(down) != 0) throw std::runtime_error("pipe failed");
      pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) {
        close(up[0]);
        close(down[1]);
        int rc = 0;
        try {
          auto final_report = idle_worker(ctx, accounts, begin, end, [&](const json& r) {
            write_line(up[1], r.dump());
            read_line(down[0]);  // "stop" or the parent's end
          });
          write_line(up[1], final_report.dump());
        } catch (const std::exception& e) {
          write_line(up[1], json{{"error", e.what()}}.dump());
          rc = 1;
        }
        _exit(rc);
      }
      close(up[1]);
      close(down[0]);
      children.push_back(pid);
      from_child.push_back(up[0]);
      to_child.push_back(down[1]);
    }
    std::vector<json> readies;
    for (int fd : from_child) {
      auto r = json::parse(read_line(fd), nullptr, false);
      if (!r.is_object() || r.contains("error")) throw std::runtime_error("idle worker failed: " + r.dump());
      readies.push_back(r);
    }
    measure_and_hold(readies);
    for (int fd : to_child) {
      write_line(fd, "stop");
      close(fd);
    }
    for (int fd : from_child) {
      finals.push_back(json::parse(read_line(fd), nullptr, false));
      close(fd);
    }
    for (pid_t pid : children) waitpid(pid, nullptr, 0);
  }
  auto phase = meter.stop();

  size_t closed_early = 0, unclosed = 0;
  uint64_t pongs = 0;
  for (auto& f : finals) {
    if (!f.is_object() || f.contains("error")) throw std::runtime_error("idle worker failed: " + f.dump());
    closed_early += f["closed_early"].get<size_t>();
    unclosed += f["unclosed"].get<size_t>();
    pongs += f["pongs"].get<uint64_t>();
  }
  ScenarioResult result;
  auto& d = result.data;
  double per_conn = rss_before >= 0 && rss_after >= 0 && authenticated > 0
                        ? static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(authenticated)
                        : -1;
  d = {{"scenario", "idle"}, {"connections", count}, {"procs", procs}, {"authenticated", authenticated},
       {"failed", failed}, {"connect_s", connect_s},
       {"connects_per_s", connect_s > 0 ? static_cast<double>(authenticated) / connect_s : 0},
       {"connect_auth_latency_ms", latency}, {"server_rss_before_kib", rss_before},
       {"server_rss_after_kib", rss_after}, {"server_rss_after_hold_kib", rss_held},
       {"server_bytes_per_connection", per_conn}, {"server_saw_all", server_saw_all}, {"hold_s", o.hold_s},
       {"pongs", pongs}, {"closed_early", closed_early}, {"unclosed", unclosed},
       {"server_cpu_s", phase["server_cpu_s"]}, {"server_threads_cpu_s", phase["server_threads_cpu_s"]},
       {"bench_cpu_s", phase["bench_cpu_s"]},
       {"loadavg_1m", phase["loadavg_1m"]}};
  if (!first_error.empty()) d["first_error"] = first_error;
  result.ok = failed == 0 && authenticated == count && closed_early == 0 && server_saw_all;
  d["ok"] = result.ok;
  std::ostringstream s;
  s << "idle: " << thousands(static_cast<double>(count)) << " connections over " << procs << " process(es)\n"
    << "  authenticated " << authenticated << ", failed " << failed << (first_error.empty() ? "" : " (" + first_error + ")")
    << " in " << connect_s << " s: " << thousands(d["connects_per_s"].get<double>()) << " connect+auth/s\n"
    << "  connect+auth " << describe_latency(latency) << (procs > 1 ? " (last worker)" : "") << "\n"
    << "  server RSS " << thousands(static_cast<double>(rss_before)) << " KiB before, "
    << thousands(static_cast<double>(rss_after)) << " KiB with all connected, "
    << thousands(static_cast<double>(rss_held)) << " KiB after holding " << o.hold_s << " s\n"
    << "  " << thousands(per_conn) << " bytes per connection\n"
    << "  pongs " << pongs << ", closed early " << closed_early << ", unclosed at the end " << unclosed
    << "\n  " << describe_usage(phase) << "\n  "
    << (result.ok ? "OK" : "FAILED");
  result.summary = s.str();
  return result;
}

}  // namespace imbench
