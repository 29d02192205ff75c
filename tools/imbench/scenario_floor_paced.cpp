// floor --rate R: the traffic of a paced direct run with nothing in between.
//
// A relay process stands in for the server and does no work of its own: for every `send` frame it
// writes one frame back (the send_ack and echo, which the server writes together) and one push to
// the peer, and it drops ACKs. It is forked, so it has an address space of its own as a server
// would: switching between relay and client costs what switching between server and imbench costs.
// One client thread stands in for imbench: paced sends with each sender's schedule shifted by its
// index, as `direct --rate` does, and one cumulative ACK per socket and turn for what it read.
// Frames are 100 bytes; each side writes what a turn queued for a socket in one write.
//
// With --relay-threads N each send passes through N threads (relay_chain.hpp) before the relay
// answers, the shape of a server's hand-overs from its I/O thread to its actor and commit threads
// and back. Those threads sleep when idle, so at moderate rates a hand-over is also a wake-up,
// which imserver's busier threads mostly avoid: a hand-over here costs at least as much as one
// in imserver.
//
// What it shows: the latency and the CPU that the loopback transfers of a paced direct run cost on
// this machine before any server work. With no relay thread, its latency is the lowest a server
// could reach here. The client's CPU per message depends on how quickly the relay answers (a
// slower answer finds more to read at once), so compare the two sides' sum, not one side.
//
// Needs epoll_pwait2 (Linux 5.11, glibc 2.35) for sub-millisecond pacing.

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "floor_loop.hpp"
#include "loopback.hpp"
#include "proc_stats.hpp"
#include "relay_chain.hpp"
#include "scenario.hpp"
#include "stats.hpp"

namespace imbench {

namespace {

using namespace paced_floor;

constexpr int kMaxEvents = 256;
// Sends queued in one client turn at most: a client that has fallen behind its schedule still
// reads, and sees its deadline, between bursts.
constexpr int64_t kMaxSendsPerTurn = 1024;
constexpr uint32_t kChainEvent = UINT32_MAX;  // the relay chain's eventfd in the relay's epoll set

template <class OnEvent>
int wait_events(EventLoop& loop, std::vector<epoll_event>& events, const timespec* timeout, OnEvent&& on_event) {
  int n = ::epoll_pwait2(loop.epoll_fd(), events.data(), kMaxEvents, timeout, nullptr);
  if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_pwait2: ") + std::strerror(errno));
  for (int e = 0; e < n; ++e) on_event(events[static_cast<size_t>(e)]);
  return n;
}

// The relay process: user u's peer is u ^ 1. Runs until every socket is closed; returns what it
// used, its threads included.
Usage run_relay(const std::vector<Fd>& sockets, int extra_threads) {
  auto before = own_usage();
  EventLoop loop(sockets);
  std::unique_ptr<RelayChain> chain;
  if (extra_threads > 0) {
    chain = std::make_unique<RelayChain>(extra_threads);
    loop.watch_extra(chain->wake_fd(), kChainEvent);
  }
  std::vector<Relayed> read_this_turn;
  std::vector<epoll_event> events(kMaxEvents);
  auto answer = [&](const Relayed& r) {
    auto f = r.frame;
    f.type = kEchoAndAck;
    loop.queue(r.from, f);
    f.type = kPush;
    loop.queue(r.from ^ 1, f);
  };
  while (loop.open() > 0) {
    wait_events(loop, events, nullptr, [&](const epoll_event& ev) {
      uint32_t i = ev.data.u32;
      if (i == kChainEvent) {
        for (const auto& r : chain->take_returned()) answer(r);
        return;
      }
      if (ev.events & EPOLLOUT) loop.writable(i);
      if (ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        loop.read(i, [&](const FrameFields& f) {
          if (f.type != kSend) return;  // ACKs are dropped
          if (chain) read_this_turn.push_back({i, f});
          else answer({i, f});
        });
      }
    });
    if (chain) chain->hand_over(read_this_turn);
    loop.flush();
  }
  chain.reset();
  return own_usage() - before;
}

struct ClientTally {
  int64_t sent = 0;  // queued for writing; all of them written when the run completes
  int64_t pushes = 0, echoes = 0;
  int64_t unexpected = 0;  // frames out of order, or not addressed to the socket they came on
  Samples latency;         // send -> push, µs
  Usage used;
  double wall_s = 0;
};

// The client side: paced sends, pushes and echoes read and acknowledged. Stops when every push and
// echo arrived, when the relay closed every socket, or at `deadline_ns`.
ClientTally run_client(const std::vector<Fd>& sockets, int64_t per_sender, double rate, int64_t deadline_ns) {
  ClientTally tally;
  auto users = static_cast<int64_t>(sockets.size());
  int64_t total = users * per_sender;
  std::vector<uint32_t> next_push(sockets.size(), 0), next_echo(sockets.size(), 0);
  EventLoop loop(sockets);
  std::vector<epoll_event> events(kMaxEvents);
  auto before = own_usage();
  int64_t start = monotonic_ns();
  // Message g (sender g % users, its index g / users) is due at start + g / rate.
  auto due = [&](int64_t g) { return start + static_cast<int64_t>(static_cast<double>(g) * 1e9 / rate); };
  while ((tally.pushes < total || tally.echoes < total) && loop.open() > 0) {
    int64_t now = monotonic_ns();
    if (now >= deadline_ns) break;
    for (int64_t n = 0; n < kMaxSendsPerTurn && tally.sent < total && due(tally.sent) <= now; ++n, ++tally.sent) {
      auto u = static_cast<uint32_t>(tally.sent % users);
      loop.queue(u, {kSend, u, static_cast<uint32_t>(tally.sent / users), monotonic_ns()});
    }
    loop.flush();
    now = monotonic_ns();  // after the writes, so that the next send is not late by their length
    int64_t wait_ns = tally.sent < total ? std::max<int64_t>(0, due(tally.sent) - now) : 100000000;
    wait_ns = std::max<int64_t>(0, std::min(wait_ns, deadline_ns - now));
    timespec timeout{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
    wait_events(loop, events, &timeout, [&](const epoll_event& ev) {
      uint32_t u = ev.data.u32;
      if (ev.events & EPOLLOUT) loop.writable(u);
      if (!(ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
      bool ack = false;
      loop.read(u, [&](const FrameFields& f) {
        if (f.type == kPush && f.sender == (u ^ 1)) {
          if (f.index != next_push[f.sender]++) ++tally.unexpected;
          tally.latency.add((monotonic_ns() - f.sent_ns) / 1000);
          ++tally.pushes;
        } else if (f.type == kEchoAndAck && f.sender == u) {
          if (f.index != next_echo[u]++) ++tally.unexpected;
          ++tally.echoes;
        } else {
          ++tally.unexpected;
        }
        ack = true;
      });
      // Leaves with the next turn's sends; the last ACKs of the run are never sent, which the relay
      // does not miss.
      if (ack) loop.queue(u, {kAck, u, 0, 0});
    });
  }
  tally.wall_s = static_cast<double>(monotonic_ns() - start) / 1e9;
  tally.used = own_usage() - before;
  return tally;
}

}  // namespace

ScenarioResult run_paced_floor(const RunContext& ctx) {
  const auto& o = ctx.options;
  auto users = static_cast<int>(2 * o.pairs);
  if (2 * users + 16 > open_files_limit()) throw std::runtime_error("too many pairs for the open-files limit");
  auto sockets = connect_loopback_pairs(users);
  for (auto* side : {&sockets.clients, &sockets.servers})
    for (auto& fd : *side) ::fcntl(fd.get(), F_SETFL, O_NONBLOCK);

  int report[2];
  if (::pipe(report) != 0) throw std::runtime_error("pipe");
  pid_t relay_pid = ::fork();
  if (relay_pid < 0) throw std::runtime_error("fork");
  if (relay_pid == 0) {  // the relay: its own address space, like a server's
    int status = 0;
    try {
      sockets.clients.clear();
      Usage used = run_relay(sockets.servers, o.relay_threads);
      if (::write(report[1], &used, sizeof used) != sizeof used) status = 1;
    } catch (...) {
      status = 1;
    }
    ::_exit(status);
  }
  ::close(report[1]);
  sockets.servers.clear();

  auto deadline = monotonic_ns() + static_cast<int64_t>(o.duration_s * 1e9);
  auto tally = run_client(sockets.clients, o.messages, o.rate, deadline);
  sockets.clients.clear();  // the relay sees every socket close, and ends
  Usage relay;
  bool relay_reported = ::read(report[0], &relay, sizeof relay) == sizeof relay;
  ::close(report[0]);
  ::waitpid(relay_pid, nullptr, 0);

  int64_t total = users * o.messages;
  // Per message that reached its peer: a run cut short by its deadline did no more work than that.
  auto per_message = [&](double amount) -> nlohmann::json {
    if (tally.pushes == 0) return nullptr;
    return amount / static_cast<double>(tally.pushes);
  };
  auto relay_figure = [&](double amount) -> nlohmann::json { return relay_reported ? per_message(amount) : nullptr; };
  nlohmann::json cores = nullptr;
  if (tally.wall_s > 0 && relay_reported) cores = (relay.cpu_s + tally.used.cpu_s) / tally.wall_s;
  auto latency = tally.latency.summary_ms();

  ScenarioResult result;
  result.ok = tally.pushes == total && tally.echoes == total && tally.unexpected == 0 && relay_reported;
  result.data = {{"scenario", "floor"},
                 {"mode", "paced"},
                 {"ok", result.ok},
                 {"pairs", o.pairs},
                 {"relay_threads", o.relay_threads},
                 {"target_rate", o.rate},
                 {"messages", total},
                 {"sent", tally.sent},
                 {"pushes", tally.pushes},
                 {"echoes", tally.echoes},
                 {"unexpected", tally.unexpected},
                 {"wall_s", tally.wall_s},
                 {"send_to_push_ms", latency},
                 {"relay_cpu_s", relay_reported ? nlohmann::json(relay.cpu_s) : nlohmann::json(nullptr)},
                 {"client_cpu_s", tally.used.cpu_s},
                 {"relay_cpu_us_per_message", relay_figure(relay.cpu_s * 1e6)},
                 {"client_cpu_us_per_message", per_message(tally.used.cpu_s * 1e6)},
                 {"relay_wakeups_per_message", relay_figure(relay.voluntary_switches)},
                 {"client_wakeups_per_message", per_message(tally.used.voluntary_switches)},
                 {"cores_used", cores}};
  auto show = [](const nlohmann::json& v) {
    if (v.is_null()) return std::string("?");
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", v.get<double>());
    return std::string(text);
  };
  std::ostringstream s;
  s << "floor, paced: " << thousands(static_cast<double>(tally.sent)) << " of " << thousands(static_cast<double>(total))
    << " messages sent at " << thousands(o.rate) << "/s between " << o.pairs
    << " pairs, through a relay process that does no work";
  if (o.relay_threads > 0) s << ", handing each send through " << o.relay_threads << " more thread(s)";
  s << " (" << tally.wall_s << " s)\n"
    << "  send->push " << describe_latency(latency) << "\n"
    << "  CPU per message that arrived: relay " << show(result.data["relay_cpu_us_per_message"]) << " us, "
    << show(result.data["relay_wakeups_per_message"]) << " wake-ups; client "
    << show(result.data["client_cpu_us_per_message"]) << " us, " << show(result.data["client_wakeups_per_message"])
    << " wake-ups; " << show(cores) << " cores" << (relay_reported ? "" : " (the relay did not report)") << "\n"
    << "  pushes " << tally.pushes << ", echoes " << tally.echoes << ", out of order or unexpected " << tally.unexpected;
  result.summary = s.str();
  return result;
}

}  // namespace imbench
