// A short run of every imbench scenario against the real imserver binary: checks that the load
// generator works end to end and that it finds zero loss and zero duplicates. Speed is not
// asserted here (PROTOCOL.md's rules are; performance is measured by scripts/bench).

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

namespace {

using nlohmann::json;

std::string imbench_binary() {
  const char* bin = std::getenv("IMBENCH_BIN");
  if (!bin) throw std::runtime_error("IMBENCH_BIN is not set (run the tests through ctest)");
  return bin;
}

struct BenchRun {
  int exit_code = -1;
  json result;         // the --json line
  std::string output;  // everything on stdout
};

// Runs imbench with `argv_strings` (the binary first) and parses its last line as JSON.
BenchRun run_bench(std::vector<std::string> argv_strings) {
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  BenchRun run;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) run.output.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto newline = run.output.find_last_of('\n', run.output.size() >= 2 ? run.output.size() - 2 : 0);
  run.result = json::parse(run.output.substr(newline == std::string::npos ? 0 : newline + 1), nullptr, false);
  return run;
}

// Runs `imbench <scenario> --server 127.0.0.1:PORT --json <args...>`.
BenchRun run_imbench(const imtest::ServerProcess& server, const std::string& scenario, std::vector<std::string> args) {
  std::vector<std::string> argv = {imbench_binary(), scenario, "--server",
                                   "127.0.0.1:" + std::to_string(server.endpoint.port), "--server-pid",
                                   std::to_string(server.pid()), "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_bench(std::move(argv));
}

// Runs `imbench floor --rate ... --json <args...>`, which needs no server, and checks what every
// paced floor run must report: an exit status that agrees with "ok", no frame out of order, and,
// for a run expected to complete, every one of `messages` pushed and echoed.
BenchRun paced_floor(std::vector<std::string> args, int64_t messages, bool completes) {
  std::vector<std::string> argv = {imbench_binary(), "floor", "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto run = run_bench(std::move(argv));
  INFO(run.output);
  CHECK(run.exit_code == (completes ? 0 : 1));
  CHECK(run.result["ok"] == completes);
  CHECK(run.result["mode"] == "paced");
  CHECK(run.result["messages"] == messages);
  CHECK(run.result["unexpected"] == 0);
  if (completes) {
    CHECK(run.result["pushes"] == messages);
    CHECK(run.result["echoes"] == messages);
  } else {
    CHECK(run.result["pushes"].get<int64_t>() < messages);
  }
  return run;
}

struct SmokeServer {
  imtest::TempDir dir;
  imtest::ServerProcess server{dir.path(),
                               {"--password-hash-cost", "min", "--register-per-min-per-ip", "0",  // one address registers all
                                "--rate-sends-per-s", "0", "--rate-frames-per-s", "0",
                                // Heartbeats every 200 ms, so the idle run sees pongs; but not the
                                // default idle close after 3 of them (600 ms), which a loaded CI
                                // machine can stall a client past.
                                "--heartbeat-ms", "200", "--idle-timeout-ms", "30000", "--log-level", "warn"}};
};

}  // namespace

TEST_CASE("imbench idle holds authenticated connections over two worker processes") {
  SmokeServer s;
  auto run = run_imbench(s.server, "idle", {"--connections", "60", "--procs", "2", "--hold-s", "0.6", "--duration-s", "30"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.result["ok"] == true);
  CHECK(run.result["authenticated"] == 60);
  CHECK(run.result["closed_early"] == 0);
  CHECK(run.result["pongs"].get<int>() > 0);
  CHECK(run.result["server_rss_after_kib"].get<int64_t>() > 0);
}

TEST_CASE("imbench direct: every message acknowledged once and delivered once, both ways") {
  SmokeServer s;
  auto run = run_imbench(s.server, "direct", {"--pairs", "4", "--messages", "150", "--window", "8", "--duration-s", "60"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.result["ok"] == true);
  CHECK(run.result["messages"] == 4 * 2 * 150);
  CHECK(run.result["lost"] == 0);
  CHECK(run.result["unacked"] == 0);
  CHECK(run.result["echo_missing"] == 0);
  CHECK(run.result["duplicates"] == 0);
  CHECK(run.result["latency_ms"]["count"] == 4 * 2 * 150);
  CHECK(run.result["server_rss_kib"]["end"].get<int64_t>() > 0);
}

TEST_CASE("imbench direct at a paced rate") {
  SmokeServer s;
  auto run = run_imbench(s.server, "direct",
                         {"--pairs", "2", "--messages", "40", "--window", "4", "--rate", "400", "--duration-s", "60"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.result["lost"] == 0);
  CHECK(run.result["duplicates"] == 0);
  // 160 messages at 400/s take at least about 0.4 s.
  CHECK(run.result["wall_s"].get<double>() > 0.3);
}

TEST_CASE("imbench group: every member gets every message once") {
  SmokeServer s;
  auto run = run_imbench(s.server, "group",
                         {"--members", "12", "--senders", "3", "--messages", "30", "--window", "4", "--duration-s", "60"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.result["ok"] == true);
  CHECK(run.result["deliveries"] == 12 * 3 * 30);
  CHECK(run.result["missing"] == 0);
  CHECK(run.result["duplicates"] == 0);
}

TEST_CASE("imbench churn: connections come and go, nothing lost or duplicated") {
  SmokeServer s;
  auto run = run_imbench(s.server, "churn", {"--lanes", "6", "--messages-per-connection", "2", "--duration-s", "1.5"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.result["ok"] == true);
  CHECK(run.result["connects"].get<int>() > 6);
  CHECK(run.result["sent"] == run.result["acked"]);
  CHECK(run.result["missing"] == 0);
  CHECK(run.result["duplicates"] == 0);
}

TEST_CASE("imbench direct with one write per frame (--write-batching off)") {
  SmokeServer s;
  auto run = run_imbench(s.server, "direct",
                         {"--pairs", "3", "--messages", "60", "--window", "8", "--write-batching", "off", "--duration-s", "60"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.result["ok"] == true);
  CHECK(run.result["lost"] == 0);
  CHECK(run.result["echo_missing"] == 0);
  CHECK(run.result["duplicates"] == 0);
}

TEST_CASE("imbench flood: the flooders are rate-limited and the chat beside them loses nothing") {
  imtest::TempDir dir;
  // The default rate limits, which the flood is about.
  imtest::ServerProcess server{dir.path(), {"--password-hash-cost", "min", "--io-threads", "1", "--log-level", "warn"}};
  for (const char* kind : {"send", "wsping"}) {
    CAPTURE(kind);
    auto run = run_imbench(server, "flood",
                           {"--flooders", "2", "--chatters", "4", "--rate", "40", "--flood-kind", kind, "--duration-s", "2"});
    INFO(run.output);
    CHECK(run.exit_code == 0);
    CHECK(run.result["ok"] == true);
    CHECK(run.result["chat_lost"] == 0);
    CHECK(run.result["chat_latency_ms"]["count"] == 4 * 20);
    CHECK(run.result["flood_frames_sent"].get<int64_t>() > 2000);
    CHECK(run.result["server_counters"]["imserver_frames_rate_limited_total"].get<double>() +
              run.result["server_counters"]["imserver_sends_rate_limited_total"].get<double>() >
          0);
    CHECK(run.result["server_rss_peak_kib"].get<int64_t>() > 0);
  }
}

TEST_CASE("imbench floor prices a loopback hop (it ignores the server)") {
  SmokeServer s;
  auto run = run_imbench(s.server, "floor", {"--messages", "2000", "--duration-s", "30"});
  INFO(run.output);
  CHECK(run.exit_code == 0);
  CHECK(run.result["transfers"] == 4000);
  CHECK(run.result["cpu_us_per_transfer"].get<double>() > 0);
  CHECK(run.result["unbatched_direct_ceiling_msg_per_s"].get<double>() > 0);
}

TEST_CASE("imbench floor --rate relays a paced direct run's frames, with and without hand-over threads") {
  for (const char* threads : {"0", "2"}) {
    CAPTURE(threads);
    auto run = paced_floor({"--rate", "2000", "--pairs", "5", "--messages", "100", "--relay-threads", threads,
                            "--duration-s", "30"},
                           1000, true);
    CHECK(run.result["sent"] == 1000);
    CHECK(run.result["relay_threads"] == std::stoi(threads));  // the option reached the run
    CHECK(run.result["send_to_push_ms"]["count"] == 1000);
    CHECK(run.result["send_to_push_ms"]["p50"].get<double>() > 0);
    // Paced, not all at once: the last of 1,000 sends at 2,000/s is due 0.4995 s after the first.
    CHECK(run.result["wall_s"].get<double>() >= 0.49);
    CHECK(run.result["relay_cpu_s"].get<double>() > 0);
    CHECK(run.result["client_cpu_s"].get<double>() > 0);
  }
}

TEST_CASE("imbench floor --rate far over what the machine can do still delivers everything") {
  // 600,000 messages on one pair as fast as possible: the sockets fill both ways, and each side
  // must go on reading while its writes wait for room, or both stop until the deadline.
  paced_floor({"--rate", "1000000000", "--pairs", "1", "--messages", "300000", "--duration-s", "20"}, 600000, true);
}

TEST_CASE("imbench floor --rate that cannot finish within --duration-s fails") {
  // 10,000 messages at 1,000/s need 10 s; the bound is 0.3 s.
  auto run = paced_floor({"--rate", "1000", "--pairs", "5", "--messages", "1000", "--duration-s", "0.3"}, 10000, false);
  CHECK(run.result["sent"].get<int64_t>() < 10000);
}
