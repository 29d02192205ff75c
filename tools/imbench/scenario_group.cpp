// group: one group of K members, all connected; the first S members each send M messages to the
// group with at most W unacknowledged. Measures deliveries per second (every member's push of
// every message, the sender's own included) and, per message, send->first delivery,
// send->last delivery and first->last delivery; checks every member got every message once.

#include <sstream>
#include <unordered_map>

#include "accounts.hpp"
#include "fleet.hpp"
#include "scenario.hpp"
#include "sender.hpp"

namespace imbench {

namespace {

using nlohmann::json;

// When each message reached its first and its last member (microseconds; updated from every
// io thread).
struct Spread {
  std::vector<std::atomic<int64_t>> first, last;
  std::vector<std::atomic<int64_t>> sent_at;  // from the body's "t", the same for every member
  explicit Spread(size_t n) : first(n), last(n), sent_at(n) {
    for (auto& f : first) f = INT64_MAX;
    for (auto& l : last) l = 0;
    for (auto& t : sent_at) t = 0;
  }
  void record(size_t k, int64_t t, int64_t sent) {
    auto f = first[k].load();
    while (t < f && !first[k].compare_exchange_weak(f, t)) {
    }
    auto l = last[k].load();
    while (t > l && !last[k].compare_exchange_weak(l, t)) {
    }
    if (f == INT64_MAX) sent_at[k].store(sent, std::memory_order_relaxed);
  }
};

struct Member {
  std::unique_ptr<Sender> sender;  // only the first S members
  uint64_t last_useq = 0;
  std::vector<uint8_t> got;        // per message (slot * M + i)
  int64_t duplicates = 0, filtered = 0, unexpected = 0;
};

struct Shared {
  std::string conv;
  std::unordered_map<uint64_t, size_t> sender_slot;  // user -> slot; read-only once running
  int64_t messages = 0;
  Progress* progress = nullptr;
  Spread* spread = nullptr;
};

void on_member_frame(Member& m, const Shared& sh, const Frame& frame, WsClient& client) {
  const auto& type = frame.type;
  if (m.sender && m.sender->on_frame(frame, client)) return;
  if (type != "msg" && type != "group" && type != "notice" && type != "friend" && type != "read" &&
      type != "recalled")
    return;  // read_count, typing, presence: not inbox events
  auto useq = frame.useq;
  if (useq <= m.last_useq) {
    ++m.filtered;
    return;
  }
  m.last_useq = useq;
  client.ack(useq);
  if (type != "msg") return;
  auto slot = sh.sender_slot.find(frame.from);
  auto i = frame.body_int("i", -1);
  if (frame.conv != sh.conv || slot == sh.sender_slot.end() || i < 0 || i >= sh.messages) {
    ++m.unexpected;
    return;
  }
  auto k = slot->second * static_cast<size_t>(sh.messages) + static_cast<size_t>(i);
  if (m.got[k]++ > 0) {
    ++m.duplicates;
    return;
  }
  sh.spread->record(k, now_us(), frame.body_int("t", 0));
  sh.progress->done_one();
}

}  // namespace

ScenarioResult run_group(const RunContext& ctx) {
  auto& o = ctx.options;
  size_t k_members = static_cast<size_t>(o.members);
  size_t senders = static_cast<size_t>(std::min(o.senders, o.members));
  IoPool pool(o.threads);
  auto accounts = register_users(pool, ctx.target, ctx.prefix, o.password, k_members,
                                 static_cast<size_t>(o.setup_concurrency), o.timeout_ms, std::max(60.0, o.duration_s));
  auto group = create_group(ctx.target, accounts[0], accounts, ctx.prefix + "-group");
  size_t total_messages = senders * static_cast<size_t>(o.messages);
  Progress progress(static_cast<int64_t>(total_messages) * static_cast<int64_t>(k_members + 1));  // deliveries + acks
  Spread spread(total_messages);
  Shared shared;
  shared.conv = "g:" + std::to_string(group);
  shared.messages = o.messages;
  shared.progress = &progress;
  shared.spread = &spread;
  for (size_t s = 0; s < senders; ++s) shared.sender_slot[accounts[s].user] = s;
  double rate_per_sender = o.rate > 0 ? o.rate / static_cast<double>(senders) : 0;
  std::string padding(static_cast<size_t>(std::max<int64_t>(0, o.body_bytes)), 'x');
  std::vector<Member> members(k_members);
  std::vector<std::string> frames;
  for (size_t i = 0; i < k_members; ++i) {
    members[i].got.assign(total_messages, 0);
    if (i < senders) {
      SenderConfig sc{ctx.prefix + "g" + std::to_string(i), R"({"group":)" + std::to_string(group) + "}", o.messages,
                      o.window, rate_per_sender, padding, static_cast<double>(i) / static_cast<double>(senders)};
      members[i].sender = std::make_unique<Sender>(pool.at(i), sc, &progress);
    }
    frames.push_back(auth_frame(accounts[i].token, "bench"));
  }

  Fleet fleet(pool, ctx.target, 0, write_mode(o));
  fleet.connect(frames, static_cast<size_t>(o.connect_concurrency), o.timeout_ms, o.heartbeat_ms, o.duration_s,
                [&](size_t i, WsClient& client) {
                  client.set_frame_handler([&members, &shared, i, c = &client](const Frame& f) {
                    on_member_frame(members[i], shared, f, *c);
                  });
                });
  ScenarioResult result;
  result.data = {{"scenario", "group"}, {"members", o.members}, {"senders", senders}, {"messages_per_sender", o.messages},
                 {"window", o.window}, {"rate_target", o.rate}, {"group", group}, {"connections", fleet.authenticated()},
                 {"connect_failed", fleet.failed()}};
  if (fleet.report_failures("group", result.summary, result.data)) return result;

  PhaseMeter meter(ctx);
  meter.start();
  auto started = Clock::now();
  for (size_t i = 0; i < senders; ++i) fleet.post(i, [&members, i](WsClient& c) { members[i].sender->start(c); });
  bool complete = progress.wait_until(started + std::chrono::milliseconds(static_cast<int64_t>(o.duration_s * 1000)));
  double wall = std::chrono::duration<double>((complete ? progress.finished_at() : Clock::now()) - started).count();
  auto phase = meter.stop();
  fleet.close_all(10);
  pool.stop();

  int64_t duplicates = 0, filtered = 0, unexpected = 0, missing = 0, unacked = 0, delivered = 0;
  std::map<std::string, int64_t> errors;
  Samples ack_latency, to_first, to_last, first_to_last;
  for (auto& m : members) {
    duplicates += m.duplicates + (m.sender ? m.sender->duplicate_acks() : 0);
    filtered += m.filtered;
    unexpected += m.unexpected;
    for (auto g : m.got) g ? ++delivered : ++missing;
    if (m.sender) {
      unacked += m.sender->missing_acks();
      ack_latency.merge(m.sender->ack_latency());
      for (auto& [code, n] : m.sender->errors()) errors[code] += n;
    }
  }
  for (size_t k = 0; k < total_messages; ++k) {
    if (spread.last[k] == 0) continue;
    to_first.add(spread.first[k] - spread.sent_at[k]);
    to_last.add(spread.last[k] - spread.sent_at[k]);
    first_to_last.add(spread.last[k] - spread.first[k]);
  }
  auto& d = result.data;
  d["messages"] = total_messages;
  d["deliveries"] = delivered;
  d["complete"] = complete;
  d["wall_s"] = wall;
  d["deliveries_per_s"] = wall > 0 ? static_cast<double>(delivered) / wall : 0;
  d["messages_per_s"] = wall > 0 ? static_cast<double>(total_messages - static_cast<size_t>(unacked)) / wall : 0;
  d["ack_latency_ms"] = ack_latency.summary_ms();
  d["send_to_first_ms"] = to_first.summary_ms();
  d["send_to_last_ms"] = to_last.summary_ms();
  d["first_to_last_ms"] = first_to_last.summary_ms();
  d["missing"] = missing;
  d["unacked"] = unacked;
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
  result.ok = complete && missing == 0 && unacked == 0 && duplicates == 0 && unexpected == 0 && fleet.closed_early() == 0;
  d["ok"] = result.ok;

  std::ostringstream s;
  s << "group: " << o.members << " members, " << senders << " senders x " << o.messages << " messages, window "
    << o.window << "\n"
    << "  " << thousands(static_cast<double>(delivered)) << " deliveries in " << wall << " s: "
    << thousands(d["deliveries_per_s"].get<double>()) << " deliveries/s ("
    << thousands(d["messages_per_s"].get<double>()) << " messages/s)" << (complete ? "" : " (INCOMPLETE: time bound reached)")
    << "\n  first->last delivery " << describe_latency(d["first_to_last_ms"])
    << "\n  send->last delivery " << describe_latency(d["send_to_last_ms"])
    << "\n  send->send_ack " << describe_latency(d["ack_latency_ms"]) << "\n"
    << "  missing " << missing << ", unacked " << unacked << ", duplicates " << duplicates << ", unexpected "
    << unexpected << ", closed early " << fleet.closed_early() << ", errors " << json(errors).dump()
    << "\n  " << describe_usage(phase) << "\n"
    << "  " << (result.ok ? "OK" : "FAILED");
  result.summary = s.str();
  return result;
}

}  // namespace imbench
