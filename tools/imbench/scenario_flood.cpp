// flood: F clients send as fast as their sockets take it for the whole run while C others chat
// (C/2 pairs, paced sends, each push acknowledged). Measures the chatters' send->receive latency,
// what the flooders got (answers, rate_limited errors, closes) and the server's resident memory,
// sampled every second. With --flooders 0 it is the same chat alone, the baseline.
//
// A flooder keeps its socket busy: whenever a write completed and nothing is queued it queues
// --flood-batch more frames, and it reads (and acknowledges) what the server sends, as an
// attacker that wants to stay connected would. --flood-kind says what it sends: `send` (messages
// to another flooder), `ping` ({"type":"ping"}) or `wsping` (WebSocket ping control frames).

#include <algorithm>
#include <atomic>
#include <iostream>
#include <sstream>
#include <thread>

#include "accounts.hpp"
#include "fleet.hpp"
#include "sender.hpp"
#include "scenario.hpp"

namespace imbench {

namespace {

using nlohmann::json;

// A chatter: its Sender, and the messages of its peer it received (latency measured on those).
struct Chatter {
  uint64_t user = 0, peer = 0;
  std::unique_ptr<Sender> sender;
  uint64_t last_useq = 0;
  std::vector<uint8_t> from_peer;
  int64_t duplicates = 0;
  Samples latency;

  void on_frame(const Frame& frame, WsClient& client, Progress& progress) {
    if (sender->on_frame(frame, client)) return;
    if (frame.type != "msg" || frame.useq <= last_useq) return;
    last_useq = frame.useq;
    client.ack(frame.useq);
    if (frame.from != peer) return;  // the echo of its own message
    auto i = frame.body_int("i", -1);
    if (i < 0 || i >= static_cast<int64_t>(from_peer.size())) return;
    if (from_peer[static_cast<size_t>(i)]++ > 0) {
      ++duplicates;
      return;
    }
    latency.add(now_us() - frame.body_int("t", 0));
    progress.done_one();
  }
};

// A flooder. Touched only on its connection's thread, read after the pool stopped.
struct Flooder {
  std::string kind;     // send, ping or wsping
  std::string cid_prefix;
  std::string to_json;  // send: {"user":U}, another flooder
  std::string body;     // send: the body, serialized
  int64_t batch = 64;
  bool stopped = false;
  int64_t sent = 0, acks = 0, limited = 0, other_errors = 0, pushes = 0;
  int close_code = 0;  // 0: still open at the end
  int64_t closed_after_ms = -1;

  void refill(WsClient& client) {
    if (stopped || client.ended()) return;
    for (int64_t k = 0; k < batch; ++k, ++sent) {
      if (kind == "wsping") client.send_ws_ping();
      else if (kind == "ping") client.send(R"({"type":"ping"})");
      else  // a new cid each time: a resend of one would be answered from the dedup record
        client.send(R"({"type":"send","cid":")" + cid_prefix + std::to_string(sent) + R"(","to":)" + to_json +
                    R"(,"body":)" + body + "}");
    }
  }

  void on_frame(const Frame& f, WsClient& client) {
    if (f.type == "send_ack") ++acks;
    else if (f.type == "error") (f.code == "rate_limited" ? limited : other_errors)++;
    else if (f.type == "msg" && f.useq > 0) {
      ++pushes;
      client.ack(f.useq);
    }
  }
};

}  // namespace

ScenarioResult run_flood(const RunContext& ctx) {
  auto& o = ctx.options;
  size_t chatters = static_cast<size_t>(o.chatters / 2 * 2), flooders = static_cast<size_t>(o.flooders);
  if (chatters == 0) throw std::runtime_error("flood needs at least 2 chatters");
  IoPool pool(o.threads);
  auto accounts = register_users(pool, ctx.target, ctx.prefix, o.password, chatters + flooders,
                                 static_cast<size_t>(o.setup_concurrency), o.timeout_ms, std::max(60.0, o.duration_s));
  // The chat: --rate messages per second over all chatters (default 5 per chatter), for the run.
  double rate = o.rate > 0 ? o.rate : 5.0 * static_cast<double>(chatters);
  double per_chatter = rate / static_cast<double>(chatters);
  auto messages = std::max<int64_t>(1, static_cast<int64_t>(per_chatter * o.duration_s));
  // Expected: per chat message its send_ack (Sender) and its delivery to the peer.
  Progress progress(2 * static_cast<int64_t>(chatters) * messages);
  std::vector<Chatter> chat(chatters);
  std::vector<Flooder> flood(flooders);
  std::vector<std::string> frames;
  std::string padding(static_cast<size_t>(std::max<int64_t>(0, o.body_bytes)), 'x');
  for (size_t i = 0; i < chatters; ++i) {
    auto& c = chat[i];
    c.user = accounts[i].user;
    c.peer = accounts[i ^ 1].user;
    c.from_peer.assign(static_cast<size_t>(messages), 0);
    SenderConfig sc{ctx.prefix + "c" + std::to_string(i), R"({"user":)" + std::to_string(c.peer) + "}", messages,
                    o.window, per_chatter, padding, static_cast<double>(i) / static_cast<double>(chatters)};
    c.sender = std::make_unique<Sender>(pool.at(i), sc, &progress);
    frames.push_back(auth_frame(accounts[i].token, "chat"));
  }
  for (size_t k = 0; k < flooders; ++k) {
    auto& f = flood[k];
    auto self = accounts[chatters + k].user;
    size_t partner = (k ^ 1) < flooders ? (k ^ 1) : (k > 0 ? k - 1 : k);
    auto target = partner != k ? accounts[chatters + partner].user : self;
    f.kind = o.flood_kind;
    f.batch = o.flood_batch;
    f.cid_prefix = ctx.prefix + "f" + std::to_string(k) + "-";
    f.to_json = R"({"user":)" + std::to_string(target) + "}";
    f.body = json{{"text", padding}}.dump();
    frames.push_back(auth_frame(accounts[chatters + k].token, "flood"));
  }

  Fleet fleet(pool, ctx.target, 0, write_mode(o));
  std::atomic<int64_t> flood_started_us{0};  // set when the flood starts; read on the io threads
  fleet.connect(
      frames, static_cast<size_t>(o.connect_concurrency), o.timeout_ms, o.heartbeat_ms, o.duration_s,
      [&](size_t i, WsClient& client) {
        if (i < chatters) {
          client.set_frame_handler([&chat, &progress, i, c = &client](const Frame& f) { chat[i].on_frame(f, *c, progress); });
        } else {
          auto& f = flood[i - chatters];
          client.set_frame_handler([&f, c = &client](const Frame& frame) { f.on_frame(frame, *c); });
          client.set_drained_handler([&f, c = &client] { f.refill(*c); });
        }
      },
      [&](size_t i, int code) {
        if (i < chatters) return;
        auto& f = flood[i - chatters];
        f.close_code = code;
        if (auto t = flood_started_us.load(); t > 0) f.closed_after_ms = (now_us() - t) / 1000;
      });
  ScenarioResult result;
  result.data = {{"scenario", "flood"}, {"flooders", flooders}, {"flood_kind", o.flood_kind}, {"chatters", chatters},
                 {"chat_rate_target", rate}, {"messages_per_chatter", messages}, {"duration_s", o.duration_s},
                 {"connections", fleet.authenticated()}, {"connect_failed", fleet.failed()}};
  if (fleet.report_failures("flood", result.summary, result.data)) return result;

  PhaseMeter meter(ctx);
  meter.start();
  auto started = Clock::now();
  flood_started_us = now_us();
  for (size_t k = 0; k < flooders; ++k)
    fleet.post(chatters + k, [&flood, k](WsClient& c) { flood[k].refill(c); });
  for (size_t i = 0; i < chatters; ++i) fleet.post(i, [&chat, i](WsClient& c) { chat[i].sender->start(c); });
  // The chat lasts the run; its last messages get a few seconds more to arrive. The server's
  // memory is sampled every second meanwhile.
  auto deadline = started + std::chrono::milliseconds(static_cast<int64_t>(o.duration_s * 1000)) + std::chrono::seconds(10);
  int64_t rss_peak_kib = -1;
  std::vector<int64_t> rss_samples;
  bool complete = false;
  while (!complete && Clock::now() < deadline) {
    complete = progress.wait_until(std::min(deadline, Clock::now() + std::chrono::seconds(1)));
    if (ctx.server_pid > 0) {
      auto rss = resident_kib(ctx.server_pid);
      rss_samples.push_back(rss);
      rss_peak_kib = std::max(rss_peak_kib, rss);
    }
  }
  double wall = std::chrono::duration<double>(Clock::now() - started).count();
  for (size_t k = 0; k < flooders; ++k) fleet.post(chatters + k, [&flood, k](WsClient&) { flood[k].stopped = true; });
  auto phase = meter.stop();
  fleet.close_all(10);
  pool.stop();

  Samples latency;
  int64_t lost = 0, duplicates = 0, unacked = 0;
  std::map<std::string, int64_t> chat_errors;
  for (auto& c : chat) {
    latency.merge(c.latency);
    duplicates += c.duplicates;
    unacked += c.sender->missing_acks();
    for (auto& [code, n] : c.sender->errors()) chat_errors[code] += n;
  }
  for (size_t i = 0; i < chatters; ++i)
    for (auto seen : chat[i ^ 1].from_peer)
      if (!seen) ++lost;
  int64_t f_sent = 0, f_acks = 0, f_limited = 0, f_other = 0, f_closed = 0;
  std::map<std::string, int64_t> close_codes;
  Samples closed_after;
  for (auto& f : flood) {
    f_sent += f.sent;
    f_acks += f.acks;
    f_limited += f.limited;
    f_other += f.other_errors;
    if (f.close_code != 0) {
      ++f_closed;
      ++close_codes[std::to_string(f.close_code)];
      if (f.closed_after_ms >= 0) closed_after.add(f.closed_after_ms * 1000);
    }
  }
  uint64_t f_pongs = fleet.pongs();  // chatters' heartbeats included: a handful
  auto& d = result.data;
  d["complete"] = complete;
  d["wall_s"] = wall;
  d["chat_latency_ms"] = latency.summary_ms();
  d["chat_lost"] = lost;
  d["chat_unacked"] = unacked;
  d["chat_duplicates"] = duplicates;
  d["chat_errors"] = chat_errors;
  d["flood_frames_sent"] = f_sent;
  d["flood_frames_per_s"] = wall > 0 ? static_cast<double>(f_sent) / wall : 0;
  d["flood_send_acks"] = f_acks;
  d["flood_rate_limited"] = f_limited;
  d["flood_other_errors"] = f_other;
  d["flood_pongs"] = f_pongs;
  d["flood_closed"] = f_closed;
  d["flood_close_codes"] = close_codes;
  d["flood_closed_after_ms"] = closed_after.summary_ms();
  d["server_rss_kib"] = phase["server_rss_kib"];
  d["server_rss_peak_kib"] = rss_peak_kib >= 0 ? json(rss_peak_kib) : json();
  d["server_rss_samples_kib"] = rss_samples;
  d["server_cpu_s"] = phase["server_cpu_s"];
  d["server_threads_cpu_s"] = phase["server_threads_cpu_s"];
  d["bench_cpu_s"] = phase["bench_cpu_s"];
  d["server_counters"] = phase["server_counters"];
  d["loadavg_1m"] = phase["loadavg_1m"];
  result.ok = complete && lost == 0 && unacked == 0 && duplicates == 0;
  d["ok"] = result.ok;

  std::ostringstream s;
  s << "flood: " << flooders << " flooders (" << o.flood_kind << ", batches of " << o.flood_batch << ") and " << chatters
    << " chatters (" << thousands(rate) << " msg/s) for " << o.duration_s << " s\n"
    << "  chat: " << thousands(static_cast<double>(chatters) * static_cast<double>(messages)) << " messages, send->receive "
    << describe_latency(d["chat_latency_ms"]) << (complete ? "" : " (INCOMPLETE)") << "\n"
    << "  chat lost " << lost << ", unacked " << unacked << ", duplicates " << duplicates << ", errors " << json(chat_errors).dump()
    << "\n  flooders: " << thousands(static_cast<double>(f_sent)) << " frames sent (" << thousands(d["flood_frames_per_s"].get<double>())
    << "/s), " << thousands(static_cast<double>(f_acks)) << " send_acks, " << thousands(static_cast<double>(f_limited))
    << " rate_limited, " << f_pongs << " pongs, " << f_closed << " closed " << json(close_codes).dump() << "\n";
  if (rss_peak_kib >= 0) s << "  server RSS peak " << rss_peak_kib / 1024 << " MiB\n";
  s << "  " << describe_usage(phase) << "\n  " << (result.ok ? "OK" : "FAILED");
  result.summary = s.str();
  return result;
}

}  // namespace imbench
