// imbench: the load generator. Speaks PROTOCOL.md over asynchronous WebSocket connections from a
// few io_context threads and runs one bounded scenario against a server on this machine:
//   idle    C authenticated connections held with heartbeats; server memory per connection
//   direct  P pairs exchanging M messages each; throughput, latency, zero loss / duplicates
//   group   one group of K members, S senders; deliveries per second, fan-out spread
//   churn   connect, auth, send a few, disconnect, over and over; connect+auth per second
//   flood   F clients send as fast as they can while C others chat; the chat's latency, what
//           the flooders got, the server's memory (run with --flooders 0 for the baseline)
//   floor   no server: the CPU price of one small loopback TCP hop, the machine's lower bound;
//           with --rate, a paced direct run's transfers through a relay that does no work
// Exit status: 0 when every check passed, 1 when a check failed, 2 on bad usage or setup failure.

#include <iostream>

#include <CLI/CLI.hpp>

#include "accounts.hpp"
#include "proc_stats.hpp"
#include "scenario.hpp"

using namespace imbench;

int main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app{"imbench: load generator for imserver (loopback only; every run is bounded)"};
  app.add_option("scenario", o.scenario, "idle, direct, group, churn, flood or floor")
      ->required()
      ->check(CLI::IsMember({"idle", "direct", "group", "churn", "flood", "floor"}));
  app.add_option("--server", o.server, "HOST:PORT of the server (loopback)")->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "server pid for CPU and memory (default: who listens on the port)");
  app.add_option("--duration-s", o.duration_s, "bound on the measured phase")->capture_default_str()->check(CLI::Range(0.1, 3600.0));
  app.add_option("--threads", o.threads, "io_context threads")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_flag("--json", o.json, "print one JSON line on stdout (the summary goes to stderr)");
  app.add_option("--sources", o.sources, "loopback source addresses 127.0.0.1..N")->capture_default_str()->check(CLI::Range(1, 250));
  app.add_option("--setup-concurrency", o.setup_concurrency, "HTTP connections registering users")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--connect-concurrency", o.connect_concurrency, "connects+auths in flight")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--password", o.password, "password of the registered users")->capture_default_str();
  app.add_option("--user-prefix", o.user_prefix, "user name prefix (default: random per run)");
  app.add_option("--write-batching", o.write_batching,
                 "on: the frames a client queues in one turn leave in one write; off: one write per frame")
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "bound on one connect+auth or HTTP request")->capture_default_str()->check(CLI::Range(int64_t(100), int64_t(600000)));
  app.add_option("--connections", o.connections, "idle: connections")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(200000)));
  app.add_option("--procs", o.procs, "idle: worker processes")->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--hold-s", o.hold_s, "idle: how long to hold the connections")->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  app.add_option("--heartbeat-ms", o.heartbeat_ms, "ping interval (0: what auth_ok announces)")->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(3600000)));
  app.add_option("--pairs", o.pairs, "direct, floor --rate: pairs of users")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(50000)));
  app.add_option("--messages", o.messages, "direct, group, floor --rate: messages per sender; floor: round trips")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(10000000)));
  app.add_option("--window", o.window, "direct, group: sends in flight per sender")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(100000)));
  app.add_option("--rate", o.rate, "direct, group, floor: target messages/s over all senders (direct, group: 0 = window only)")->capture_default_str()->check(CLI::Range(0.0, 1e9));
  app.add_option("--body-bytes", o.body_bytes, "direct, group: text padding per message")->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(15000)));
  app.add_option("--members", o.members, "group: members")->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(100000)));
  app.add_option("--senders", o.senders, "group: members that send")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(100000)));
  app.add_option("--relay-threads", o.relay_threads, "floor --rate: threads each send passes through inside the relay")->capture_default_str()->check(CLI::Range(0, 8));
  app.add_option("--lanes", o.lanes, "churn: connections cycling in parallel")->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(50000)));
  app.add_option("--messages-per-connection", o.messages_per_connection, "churn: sends per connection")->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(255)));
  app.add_option("--max-cycles", o.max_cycles, "churn: bound on connections opened")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(100000000)));
  app.add_option("--flooders", o.flooders, "flood: connections sending as fast as they can")->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(50000)));
  app.add_option("--chatters", o.chatters, "flood: connections chatting in pairs (--rate over all; default 5 msg/s each)")->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(50000)));
  app.add_option("--flood-kind", o.flood_kind, "flood: what flooders send: send, ping or wsping")->capture_default_str()->check(CLI::IsMember({"send", "ping", "wsping"}));
  app.add_option("--flood-batch", o.flood_batch, "flood: frames a flooder queues each time its writes drained")->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(100000)));
  CLI11_PARSE(app, argc, argv);

  ScenarioResult result;
  try {
    RunContext ctx;
    ctx.options = o;
    if (o.scenario == "floor") {
      result = run_floor(ctx);  // measures the machine, not a server
    } else {
      ctx.target = Target::parse(o.server, o.sources);
      ctx.server_pid = o.server_pid > 0 ? static_cast<pid_t>(o.server_pid) : find_server_pid(ctx.target.server.port());
      ctx.prefix = o.user_prefix.empty() ? random_prefix() : o.user_prefix;
      if (ctx.server_pid <= 0) std::cerr << "imbench: server process not found; CPU and memory figures are omitted\n";
      if (o.scenario == "idle") result = run_idle(ctx);
      else if (o.scenario == "direct") result = run_direct(ctx);
      else if (o.scenario == "group") result = run_group(ctx);
      else if (o.scenario == "flood") result = run_flood(ctx);
      else result = run_churn(ctx);
      result.data["server_pid"] = ctx.server_pid;
    }
  } catch (const std::exception& e) {
    std::cerr << "imbench " << o.scenario << ": " << e.what() << "\n";
    if (o.json) std::cout << nlohmann::json{{"scenario", o.scenario}, {"ok", false}, {"error", e.what()}}.dump() << std::endl;
    return 2;
  }
  (o.json ? std::cerr : std::cout) << result.summary << std::endl;
  if (o.json) std::cout << result.data.dump() << std::endl;
  return result.ok ? 0 : 1;
}
