// floor --rate R: the traffic of a paced direct run with nothing in between. A relay process stands
// in for the server and does no work of its own: for every `send` frame it writes one frame back
// (the send_ack and echo, which the server writes together) and one push to the peer, and it
// drops ACKs. One client thread stands in for imbench: paced sends with each sender's schedule
// shifted by its index, as `direct --rate` does, and one cumulative ACK per socket and turn for
// the pushes and echoes it read. Frames are 100 bytes; each side writes what a turn queued for a
// socket in one write. With --relay-threads N, each `send` passes through N more threads before
// the relay writes its answers, as a server's frames pass from its I/O thread to its actor and
// commit threads and back: a lock and a wake-up per hand-over, nothing else. The relay is forked, so it has an address space of its own, as a server
// would: switching between the two costs what switching between server and imbench costs.
//
// What it shows: the latency and the CPU that the loopback transfers of a paced direct run cost
// on this machine before any server work. No server can do better than this relay.

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loopback.hpp"
#include "scenario.hpp"
#include "stats.hpp"

namespace imbench {

namespace {

constexpr size_t kFrameBytes = 100;
constexpr size_t kReadBytes = 64 * 1024;
constexpr int kMaxEvents = 256;

enum FrameType : char { kSend = 'S', kEchoAndAck = 'E', kPush = 'P', kAck = 'A' };

// The fields of a 100-byte frame: its type, who sent the message, the message's index among that
// sender's, and when it was sent (CLOCK_MONOTONIC, shared by both processes).
struct FrameFields {
  char type = 0;
  uint32_t sender = 0;
  uint32_t index = 0;
  int64_t sent_ns = 0;
};

void append_frame(std::string& out, const FrameFields& f) {
  char frame[kFrameBytes];
  std::memset(frame, 'x', sizeof frame);
  frame[0] = f.type;
  std::memcpy(frame + 4, &f.sender, sizeof f.sender);
  std::memcpy(frame + 8, &f.index, sizeof f.index);
  std::memcpy(frame + 16, &f.sent_ns, sizeof f.sent_ns);
  out.append(frame, sizeof frame);
}

FrameFields parse_frame(const char* frame) {
  FrameFields f;
  f.type = frame[0];
  std::memcpy(&f.sender, frame + 4, sizeof f.sender);
  std::memcpy(&f.index, frame + 8, sizeof f.index);
  std::memcpy(&f.sent_ns, frame + 16, sizeof f.sent_ns);
  return f;
}

int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One non-blocking socket of an event loop: the partial frame carried between reads, and the frames
// queued for it in the current turn.
struct Conn {
  int fd = -1;
  bool open = true;
  bool dirty = false;  // `out` holds frames of this turn
  std::string in, out;
};

// Reads once (up to 64 KB) and hands every complete frame to `on_frame`. False at EOF or error.
template <class OnFrame>
bool read_frames(Conn& c, std::vector<char>& buffer, OnFrame&& on_frame) {
  auto got = ::read(c.fd, buffer.data(), buffer.size());
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (got <= 0) return false;
  c.in.append(buffer.data(), static_cast<size_t>(got));
  size_t used = 0;
  for (; c.in.size() - used >= kFrameBytes; used += kFrameBytes) on_frame(parse_frame(c.in.data() + used));
  c.in.erase(0, used);
  return true;
}

// Writes everything queued for `c` in one write when the socket takes it (waiting for room when it
// does not). False when the peer is gone, or when there is no room by `deadline_ns`.
bool flush(Conn& c, int64_t deadline_ns) {
  size_t written = 0;
  while (written < c.out.size()) {
    auto n = ::send(c.fd, c.out.data() + written, c.out.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR) && monotonic_ns() < deadline_ns) {
      pollfd p{c.fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
    } else {
      return false;
    }
  }
  c.out.clear();
  c.dirty = false;
  return true;
}

void queue(std::vector<Conn>& conns, std::vector<uint32_t>& dirty, uint32_t i, const FrameFields& f) {
  append_frame(conns[i].out, f);
  if (!conns[i].dirty) {
    conns[i].dirty = true;
    dirty.push_back(i);
  }
}

void flush_dirty(std::vector<Conn>& conns, std::vector<uint32_t>& dirty, int64_t deadline_ns = INT64_MAX) {
  for (auto i : dirty)
    if (conns[i].open && !flush(conns[i], deadline_ns)) conns[i].open = false;
  dirty.clear();
}

Fd make_epoll(std::vector<Conn>& conns) {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  for (uint32_t i = 0; i < conns.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) throw std::runtime_error("epoll_ctl");
  }
  return epoll;
}

std::vector<Conn> make_conns(const std::vector<Fd>& fds) {
  std::vector<Conn> conns(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) conns[i].fd = fds[i].get();
  return conns;
}


// A send frame that the relay read from user `from`, on its way to being answered.
struct Relayed {
  uint32_t from = 0;
  FrameFields frame;
};

// The threads that --relay-threads puts between the relay's reads and its writes. Each takes what
// the one before handed over (a lock and a condition variable) and hands it on; the last hands
// it back to the relay's event loop through an eventfd, which wakes the loop's epoll_wait.
class RelayChain {
 public:
  explicit RelayChain(int threads) : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), stages_(static_cast<size_t>(threads)) {
    for (size_t i = 0; i < stages_.size(); ++i) threads_.emplace_back([this, i] { run(i); });
  }
  ~RelayChain() {
    for (auto& stage : stages_) {
      std::lock_guard<std::mutex> lock(stage.mutex);
      stage.stopping = true;
      stage.ready.notify_one();
    }
    for (auto& t : threads_) t.join();
  }
  RelayChain(const RelayChain&) = delete;
  RelayChain& operator=(const RelayChain&) = delete;

  int wake_fd() const { return wake_.get(); }
  // The relay thread: what one turn read goes to the first thread at once.
  void hand_over(std::vector<Relayed>& items) { hand_to(0, items); }
  // The relay thread, when wake_fd() is readable: what came back through every thread.
  std::vector<Relayed> take_returned() {
    uint64_t count;
    (void)!::read(wake_.get(), &count, sizeof count);
    std::vector<Relayed> items;
    std::lock_guard<std::mutex> lock(returned_mutex_);
    items.swap(returned_);
    return items;
  }

 private:
  struct Stage {
    std::mutex mutex;
    std::condition_variable ready;
    std::vector<Relayed> items;
    bool stopping = false;
  };

  void hand_to(size_t index, std::vector<Relayed>& items) {
    if (items.empty()) return;
    auto& stage = stages_[index];
    std::lock_guard<std::mutex> lock(stage.mutex);
    stage.items.insert(stage.items.end(), items.begin(), items.end());
    stage.ready.notify_one();
    items.clear();
  }

  void run(size_t index) {
    auto& stage = stages_[index];
    std::vector<Relayed> items;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(stage.mutex);
        stage.ready.wait(lock, [&] { return stage.stopping || !stage.items.empty(); });
        if (stage.items.empty()) return;
        items.swap(stage.items);
      }
      if (index + 1 < stages_.size()) {
        hand_to(index + 1, items);
        continue;
      }
      bool wake;
      {
        std::lock_guard<std::mutex> lock(returned_mutex_);
        wake = returned_.empty();
        returned_.insert(returned_.end(), items.begin(), items.end());
      }
      items.clear();
      uint64_t one = 1;
      if (wake) (void)!::write(wake_.get(), &one, sizeof one);
    }
  }

  Fd wake_;
  std::vector<Stage> stages_;
  std::mutex returned_mutex_;
  std::vector<Relayed> returned_;
  std::vector<std::thread> threads_;  // last: they start after everything they use exists
};

// The relay process: user u's peer is u ^ 1. Runs until every socket reached EOF; returns the
// CPU seconds it spent, its threads' included.
double run_relay(std::vector<Conn> conns, int extra_threads) {
  constexpr uint32_t kChainEvent = UINT32_MAX;
  double cpu_before = process_cpu_seconds();
  auto epoll = make_epoll(conns);
  std::unique_ptr<RelayChain> chain;
  if (extra_threads > 0) {
    chain = std::make_unique<RelayChain>(extra_threads);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = kChainEvent;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, chain->wake_fd(), &ev) != 0) throw std::runtime_error("epoll_ctl");
  }
  std::vector<char> buffer(kReadBytes);
  std::vector<uint32_t> dirty;
  std::vector<Relayed> read_this_turn;
  std::vector<epoll_event> events(kMaxEvents);
  auto answer = [&](const Relayed& r) {
    auto f = r.frame;
    f.type = kEchoAndAck;
    queue(conns, dirty, r.from, f);
    f.type = kPush;
    queue(conns, dirty, r.from ^ 1, f);
  };
  size_t open = conns.size();
  while (open > 0) {
    int n = ::epoll_wait(epoll.get(), events.data(), kMaxEvents, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int e = 0; e < n; ++e) {
      uint32_t i = events[static_cast<size_t>(e)].data.u32;
      if (i == kChainEvent) {
        for (const auto& r : chain->take_returned()) answer(r);
        continue;
      }
      bool alive = read_frames(conns[i], buffer, [&](const FrameFields& f) {
        if (f.type != kSend) return;  // ACKs are dropped
        if (chain) read_this_turn.push_back({i, f});
        else answer({i, f});
      });
      if (!alive) {
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, conns[i].fd, nullptr);
        conns[i].open = false;
        --open;
      }
    }
    if (chain) chain->hand_over(read_this_turn);
    flush_dirty(conns, dirty);
  }
  chain.reset();
  return process_cpu_seconds() - cpu_before;
}

struct ClientTally {
  int64_t sent = 0, pushes = 0, echoes = 0, out_of_order = 0;
  Samples latency;  // send -> push, µs
  double cpu_s = 0, wall_s = 0;
};

// The client side: paced sends, pushes and echoes read and acknowledged. Stops when every push and
// echo arrived or at `deadline_ns`.
ClientTally run_client(std::vector<Conn> conns, int64_t per_sender, double rate, int64_t deadline_ns) {
  ClientTally tally;
  auto users = static_cast<int64_t>(conns.size());
  int64_t total = users * per_sender;
  std::vector<uint32_t> next_push(conns.size(), 0), next_echo(conns.size(), 0);
  auto epoll = make_epoll(conns);
  std::vector<char> buffer(kReadBytes);
  std::vector<uint32_t> dirty;
  std::vector<epoll_event> events(kMaxEvents);
  double cpu_before = process_cpu_seconds();
  int64_t start = monotonic_ns();
  // Message g (sender g % users, its index g / users) is due at start + g / rate.
  auto due = [&](int64_t g) { return start + static_cast<int64_t>(static_cast<double>(g) * 1e9 / rate); };
  while (tally.pushes < total || tally.echoes < total) {
    int64_t now = monotonic_ns();
    if (now >= deadline_ns) break;
    for (; tally.sent < total && due(tally.sent) <= now; ++tally.sent) {
      auto u = static_cast<uint32_t>(tally.sent % users);
      queue(conns, dirty, u, {kSend, u, static_cast<uint32_t>(tally.sent / users), monotonic_ns()});
    }
    flush_dirty(conns, dirty, deadline_ns);
    int64_t wait_ns = tally.sent < total ? std::max<int64_t>(0, due(tally.sent) - now) : 100000000;
    wait_ns = std::min(wait_ns, deadline_ns - now);
    timespec timeout{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
    int n = ::epoll_pwait2(epoll.get(), events.data(), kMaxEvents, &timeout, nullptr);
    if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_pwait2: ") + std::strerror(errno));
    int64_t received = monotonic_ns();
    for (int e = 0; e < n; ++e) {
      uint32_t u = events[static_cast<size_t>(e)].data.u32;
      bool ack = false;
      bool alive = read_frames(conns[u], buffer, [&](const FrameFields& f) {
        if (f.type == kPush && f.sender == (u ^ 1)) {
          if (f.index != next_push[f.sender]++) ++tally.out_of_order;
          tally.latency.add((received - f.sent_ns) / 1000);
          ++tally.pushes;
        } else if (f.type == kEchoAndAck && f.sender == u) {
          if (f.index != next_echo[u]++) ++tally.out_of_order;
          ++tally.echoes;
        } else {
          ++tally.out_of_order;
        }
        ack = true;
      });
      if (ack) queue(conns, dirty, u, {kAck, u, 0, 0});
      if (!alive) {
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, conns[u].fd, nullptr);
        conns[u].open = false;
      }
    }
  }
  tally.wall_s = static_cast<double>(monotonic_ns() - start) / 1e9;
  tally.cpu_s = process_cpu_seconds() - cpu_before;
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
  pid_t relay = ::fork();
  if (relay < 0) throw std::runtime_error("fork");
  if (relay == 0) {  // the relay: its own address space, like a server's
    int status = 0;
    try {
      sockets.clients.clear();
      double cpu = run_relay(make_conns(sockets.servers), o.relay_threads);
      if (::write(report[1], &cpu, sizeof cpu) != sizeof cpu) status = 1;
    } catch (...) {
      status = 1;
    }
    ::_exit(status);
  }
  ::close(report[1]);
  sockets.servers.clear();

  auto deadline = monotonic_ns() + static_cast<int64_t>(o.duration_s * 1e9);
  auto tally = run_client(make_conns(sockets.clients), o.messages, o.rate, deadline);
  // Closed, not shut down: a relay stuck writing to a client that stopped reading (a run cut
  // short by its bound) gets an error instead of waiting for room forever.
  sockets.clients.clear();
  double relay_cpu = -1;
  if (::read(report[0], &relay_cpu, sizeof relay_cpu) != sizeof relay_cpu) relay_cpu = -1;
  ::close(report[0]);
  ::waitpid(relay, nullptr, 0);

  int64_t total = users * o.messages;
  auto per_message_us = [&](double cpu) { return tally.sent > 0 && cpu >= 0 ? cpu * 1e6 / static_cast<double>(tally.sent) : 0.0; };
  double cores = tally.wall_s > 0 && relay_cpu >= 0 ? (relay_cpu + tally.cpu_s) / tally.wall_s : 0;
  auto latency = tally.latency.summary_ms();

  ScenarioResult result;
  result.ok = tally.pushes == total && tally.echoes == total && tally.out_of_order == 0 && relay_cpu >= 0;
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
                 {"out_of_order", tally.out_of_order},
                 {"wall_s", tally.wall_s},
                 {"send_to_push_ms", latency},
                 {"relay_cpu_s", relay_cpu},
                 {"client_cpu_s", tally.cpu_s},
                 {"relay_cpu_us_per_message", per_message_us(relay_cpu)},
                 {"client_cpu_us_per_message", per_message_us(tally.cpu_s)},
                 {"cores_used", cores}};
  std::ostringstream s;
  s << "floor, paced: " << thousands(static_cast<double>(tally.sent)) << " of " << thousands(static_cast<double>(total))
    << " messages at " << thousands(o.rate) << "/s between " << o.pairs
    << " pairs, through a relay process that does no work";
  if (o.relay_threads > 0) s << " but hand each send through " << o.relay_threads << " more thread(s)";
  s << " (" << tally.wall_s << " s)\n"
    << "  send->push " << describe_latency(latency) << "\n"
    << "  CPU: relay " << relay_cpu << " s (" << per_message_us(relay_cpu) << " us/msg), client " << tally.cpu_s
    << " s (" << per_message_us(tally.cpu_s) << " us/msg): " << cores << " cores\n"
    << "  pushes " << tally.pushes << ", echoes " << tally.echoes << ", out of order " << tally.out_of_order;
  result.summary = s.str();
  return result;
}

}  // namespace imbench
