// floor: what one small loopback TCP transfer costs on this machine, with no server involved.
// Two threads play ping-pong over a connected loopback pair with TCP_NODELAY: each side writes a
// 100-byte frame and reads the other's, one write and one read syscall per transfer. The CPU
// seconds of both threads divided by the transfers give the price of the cheapest possible hop
// between two processes here, including the wake-up of the reader. A direct message crosses at
// least four such hops when nothing is batched (send; send_ack and own echo; push; ACK), so
// 2 cores / (4 x this) is the ceiling of unbatched message throughput for any server on this
// machine, before the server does any work of its own (docs/BENCHMARKS.md). With --rate,
// run_floor runs scenario_floor_paced.cpp instead.

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <thread>

#include "loopback.hpp"
#include "proc_stats.hpp"
#include "scenario.hpp"
#include "stats.hpp"

namespace imbench {

namespace {

constexpr size_t kFrameBytes = 100;
// Unbatched hops per direct message: send, send_ack+echo (one write), push, ACK.
constexpr int kHopsPerDirectMessage = 4;

// Writes one frame and reads one; false when the peer went away.
bool write_frame(int fd, const char* frame) {
  return ::write(fd, frame, kFrameBytes) == static_cast<ssize_t>(kFrameBytes);
}
bool read_frame(int fd, char* buffer) {
  size_t got = 0;
  while (got < kFrameBytes) {
    auto n = ::read(fd, buffer + got, kFrameBytes - got);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

ScenarioResult run_floor(const RunContext& ctx) {
  if (ctx.options.rate > 0) return run_paced_floor(ctx);
  auto pair = connect_loopback_pairs(1);
  auto& client = pair.clients[0];
  auto& server = pair.servers[0];

  // Bounded by count and by time: the pinging side stops at whichever comes first.
  auto limit = static_cast<int64_t>(ctx.options.messages);
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(ctx.options.duration_s * 1000));
  char frame[kFrameBytes];
  std::memset(frame, 'x', sizeof frame);

  double cpu_before = own_cpu_seconds();
  auto started = Clock::now();
  std::thread echo([&] {
    char buffer[kFrameBytes];
    while (read_frame(server.get(), buffer) && write_frame(server.get(), buffer)) {
    }
  });
  int64_t round_trips = 0;
  char buffer[kFrameBytes];
  while (round_trips < limit && (round_trips % 1024 != 0 || Clock::now() < deadline)) {
    if (!write_frame(client.get(), frame) || !read_frame(client.get(), buffer)) break;
    ++round_trips;
  }
  ::shutdown(client.get(), SHUT_RDWR);  // ends the echo thread's read
  echo.join();
  double wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  double cpu_s = own_cpu_seconds() - cpu_before;

  auto transfers = 2 * round_trips;
  double us_per_transfer = transfers > 0 ? cpu_s * 1e6 / static_cast<double>(transfers) : 0;
  double ceiling = us_per_transfer > 0 ? 2e6 / (kHopsPerDirectMessage * us_per_transfer) : 0;

  ScenarioResult result;
  result.ok = round_trips > 0;
  result.data = {{"scenario", "floor"},           {"ok", result.ok},
                 {"transfers", transfers},         {"frame_bytes", kFrameBytes},
                 {"wall_s", wall_s},               {"cpu_s", cpu_s},
                 {"cpu_us_per_transfer", us_per_transfer},
                 {"unbatched_direct_ceiling_msg_per_s", ceiling}};
  std::ostringstream s;
  s << "floor: " << thousands(static_cast<double>(transfers)) << " loopback transfers of " << kFrameBytes << " bytes in " << wall_s << " s\n"
    << "  " << us_per_transfer << " us of CPU per transfer (one write, one read, one wake-up)\n"
    << "  ceiling for unbatched direct messages on 2 cores (" << kHopsPerDirectMessage
    << " transfers each, no server work): " << thousands(ceiling) << " msg/s";
  result.summary = s.str();
  return result;
}

}  // namespace imbench
