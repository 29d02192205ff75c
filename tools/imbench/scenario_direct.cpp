// direct: P pairs of users; each user sends M messages to its peer with at most W unacknowledged.
// Measures messages delivered and acknowledged per second and send->receive latency, and checks
// that every cid was acknowledged once and every message arrived exactly once at the peer and
// once as the echo in the sender's own inbox (useq-filtered, each push acknowledged).

#include <iostream>
#include <sstream>

#include "accounts.hpp"
#include "fleet.hpp"
#include "sender.hpp"
#include "scenario.hpp"

namespace imbench {

namespace {

using nlohmann::json;

// One user of a pair: its Sender and what it received. Touched only on its connection's thread.
struct PairMember {
  uint64_t user = 0, peer = 0;
  std::unique_ptr<Sender> sender;
  uint64_t last_useq = 0;
  std::vector<uint8_t> from_peer, echoes;  // times each message index arrived
  int64_t duplicates = 0, filtered = 0, unexpected = 0;
  Samples latency;

  void on_frame(const Frame& frame, WsClient& client, Progress& progress) {
    if (sender->on_frame(frame, client)) return;
    if (frame.type != "msg") return;
    auto useq = frame.useq;
    if (useq <= last_useq) {
      ++filtered;  // a retransmission we already processed
      return;
    }
    last_useq = useq;
    client.ack(useq);
    auto from = frame.from;
    auto i = frame.body_int("i", -1);
    if (i < 0 || i >= static_cast<int64_t>(from_peer.size()) || (from != peer && from != user)) {
      ++unexpected;
      return;
    }
    auto& seen = (from == peer ? from_peer : echoes)[static_cast<size_t>(i)];
    if (seen++ > 0) {
      ++duplicates;
      return;
    }
    if (from == peer) latency.add(now_us() - frame.body_int("t", 0));
    progress.done_one();
  }
};

}  // namespace

ScenarioResult run_direct(const RunContext& ctx) {
  auto& o = ctx.options;
  size_t users = static_cast<size_t>(2 * o.pairs);
  IoPool pool(o.threads);
  auto accounts = register_users(pool, ctx.target, ctx.prefix, o.password, users, static_cast<size_t>(o.setup_concurrency),
                                 o.timeout_ms, std::max(60.0, o.duration_s));
  // Expected: per message one send_ack, one delivery to the peer, one echo to the sender.
  Progress progress(3 * static_cast<int64_t>(users) * o.messages);
  double rate_per_sender = o.rate > 0 ? o.rate / static_cast<double>(users) : 0;
  std::string padding(static_cast<size_t>(std::max<int64_t>(0, o.body_bytes)), 'x');
  std::vector<PairMember> members(users);
  std::vector<std::string> frames;
  for (size_t i = 0; i < users; ++i) {
    auto& m = members[i];
    m.user = accounts[i].user;
    m.peer = accounts[i ^ 1].user;
    m.from_peer.assign(static_cast<size_t>(o.messages), 0);
    m.echoes.assign(static_cast<size_t>(o.messages), 0);
    SenderConfig sc{ctx.prefix + "d" + std::to_string(i), R"({"user":)" + std::to_string(m.peer) + "}", o.messages,
                    o.window, rate_per_sender, padding, static_cast<double>(i) / static_cast<double>(users)};
    m.sender = std::make_unique<Sender>(pool.at(i), sc, &progress);
    frames.push_back(auth_frame(accounts[i].token, "bench"));
  }

  Fleet fleet(pool, ctx.target, 0, write_mode(o));
  fleet.connect(frames, static_cast<size_t>(o.connect_concurrency), o.timeout_ms, o.heartbeat_ms, o.duration_s,
                [&](size_t i, WsClient& client) {
                  client.set_frame_handler([&members, &progress, i, c = &client](const Frame& f) {
                    members[i].on_frame(f, *c, progress);
                  });
                });
  ScenarioResult result;
  result.data = {{"scenario", "direct"}, {"pairs", o.pairs}, {"messages_per_sender", o.messages}, {"window", o.window},
                 {"rate_target", o.rate}, {"body_bytes", o.body_bytes}, {"connections", fleet.authenticated()},
                 {"connect_failed", fleet.failed()}};
  if (fleet.report_failures("direct", result.summary, result.data)) return result;

  PhaseMeter meter(ctx);
  meter.start();
  auto started = Clock::now();
  for (size_t i = 0; i < users; ++i) fleet.post(i, [&members, i](WsClient& c) { members[i].sender->start(c); });
  bool complete = progress.wait_until(started + std::chrono::milliseconds(static_cast<int64_t>(o.duration_s * 1000)));
  double wall = std::chrono::duration<double>((complete ? progress.finished_at() : Clock::now()) - started).count();
  auto phase = meter.stop();
  fleet.close_all(10);
  pool.stop();  // every member is quiet from here on

  Samples latency, ack_latency;
  int64_t duplicates = 0, filtered = 0, unexpected = 0, lost = 0, unacked = 0, echo_missing = 0;
  std::map<std::string, int64_t> errors;
  for (auto& m : members) {
    latency.merge(m.latency);
    ack_latency.merge(m.sender->ack_latency());
    duplicates += m.duplicates + m.sender->duplicate_acks();
    filtered += m.filtered;
    unexpected += m.unexpected;
    unacked += m.sender->missing_acks();
    for (auto& [code, n] : m.sender->errors()) errors[code] += n;
  }
  for (size_t i = 0; i < users; ++i) {
    auto& peer = members[i ^ 1];
    for (int64_t k = 0; k < o.messages; ++k) {
      if (!peer.from_peer[static_cast<size_t>(k)]) ++lost;
      if (!members[i].echoes[static_cast<size_t>(k)]) ++echo_missing;
    }
  }
  int64_t total = static_cast<int64_t>(users) * o.messages;
  auto& d = result.data;
  d["messages"] = total;
  d["complete"] = complete;
  d["wall_s"] = wall;
  d["delivered_acked_per_s"] = wall > 0 ? static_cast<double>(total - std::max(lost, unacked)) / wall : 0;
  d["latency_ms"] = latency.summary_ms();
  d["ack_latency_ms"] = ack_latency.summary_ms();
  d["lost"] = lost;
  d["unacked"] = unacked;
  d["echo_missing"] = echo_missing;
  d["duplicates"] = duplicates;
  d["retransmits_filtered"] = filtered;
  d["unexpected"] = unexpected;
  d["errors"] = errors;
  d["closed_early"] = fleet.closed_early();
  d["server_cpu_s"] = phase["server_cpu_s"];
  d["server_threads_cpu_s"] = phase["server_threads_cpu_s"];
  d["server_rss_kib"] = phase["server_rss_kib"];
  d["bench_cpu_s"] = phase["bench_cpu_s"];
  d["server_counters"] = phase["server_counters"];
  d["loadavg_1m"] = phase["loadavg_1m"];
  result.ok = complete && lost == 0 && unacked == 0 && echo_missing == 0 && duplicates == 0 && unexpected == 0 &&
              fleet.closed_early() == 0;
  d["ok"] = result.ok;

  std::ostringstream s;
  s << "direct: " << o.pairs << " pairs x 2 senders x " << o.messages << " messages, window " << o.window
    << (o.rate > 0 ? ", target rate " + thousands(o.rate) + " msg/s" : std::string()) << "\n"
    << "  " << thousands(total) << " messages in " << wall << " s: " << thousands(d["delivered_acked_per_s"].get<double>())
    << " msg/s delivered and acknowledged" << (complete ? "" : " (INCOMPLETE: time bound reached)") << "\n"
    << "  send->receive " << describe_latency(d["latency_ms"]) << "\n"
    << "  send->send_ack " << describe_latency(d["ack_latency_ms"]) << "\n"
    << "  lost " << lost << ", unacked " << unacked << ", echo missing " << echo_missing << ", duplicates " << duplicates
    << ", unexpected " << unexpected << ", closed early " << fleet.closed_early() << ", errors " << json(errors).dump()
    << "\n  " << describe_usage(phase) << "\n"
    << "  " << (result.ok ? "OK" : "FAILED");
  result.summary = s.str();
  return result;
}

}  // namespace imbench
