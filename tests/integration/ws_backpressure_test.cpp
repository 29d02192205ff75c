// Back-pressure on WebSocket connections: a client that reads slower than the server writes to
// it, and one that stops reading. The client's small receive buffer and a flood of pings make
// the server's writes block; every wait is bounded by a deadline or polls /metrics.

#include <doctest/doctest.h>

#include "integration/ops_support.hpp"
#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

using nlohmann::json;
using namespace rawws;

namespace {

// More pong bytes (10 MB) than the socket buffers on the way hold, whatever the kernel's
// net.ipv4.tcp_wmem: the server's send buffer is set (kServerSendBuffer) and the client's small
// receive buffer keeps its TCP window small. So a client that does not read makes the server's
// writes block.
constexpr int kFloodPings = 80000;
constexpr size_t kPingBytes = 125;  // the largest control frame payload
constexpr int64_t kServerSendBuffer = 64 * 1024;  // --socket-send-buffer-bytes

// Ping `i` of the flood: its index, padded to kPingBytes.
std::string flood_payload(int i) {
  std::string payload = std::to_string(i) + ":";
  payload.resize(kPingBytes, 'x');
  return payload;
}

// Writes the whole flood of pings without reading anything.
void send_flood(RawWs& ws) {
  std::string flood;
  flood.reserve(static_cast<size_t>(kFloodPings) * (kPingBytes + 8));
  for (int i = 0; i < kFloodPings; ++i) flood += masked_frame(kPing, flood_payload(i));
  ws.write(flood);
}

}  // namespace

TEST_CASE("a client that reads slower than it is sent to gets every frame whole and in order") {
  // Nothing is dropped while the queue has room: the writes that block wait for the socket.
  imtest::TestServer server([](im::ServerOptions& o) {
    o.rate_frames_per_s = 0;
    o.socket_send_buffer_bytes = kServerSendBuffer;
    o.send_queue_frames = 2 * kFloodPings;
  });
  auto account = server.account();
  auto blocked_before = opstest::metric(server.endpoint, "imserver_socket_writes_blocked_total");
  RawWs ws(server.endpoint.port, 4096);
  ws.open_authed(account.token, "slow-reader");
  send_flood(ws);
  // Reading starts once a write of the server's had to wait (otherwise this tested nothing).
  REQUIRE(opstest::eventually(
      [&] { return opstest::metric(server.endpoint, "imserver_socket_writes_blocked_total") > blocked_before; },
      4 * kWait));
  auto deadline = std::chrono::steady_clock::now() + 4 * kWait;
  for (int i = 0; i < kFloodPings; ++i) {
    auto f = ws.next_frame(deadline);
    REQUIRE_MESSAGE(f, "only " << i << " pongs of " << kFloodPings);
    REQUIRE(f->opcode == kPong);
    REQUIRE(f->payload == flood_payload(i));
  }
  // The connection still works.
  ws.write(masked_frame(kText, app_ping("after")));
  auto pong = ws.wait_for_type("pong");
  REQUIRE(pong);
  CHECK(pong->body()["rid"] == "after");
}

TEST_CASE("a client that stops reading is closed with 1008 once its queue is full, after what it was sent") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.rate_frames_per_s = 0;
    o.socket_send_buffer_bytes = kServerSendBuffer;
    o.send_queue_frames = 256;
    // The close frame waits behind megabytes this client reads only after its flood: on a busy
    // machine that could take longer than the default 5 s the server allows before it drops the
    // connection without a close frame.
    o.close_timeout_ms = 60000;
  });
  auto account = server.account();
  RawWs ws(server.endpoint.port, 4096);
  ws.open_authed(account.token, "stalled");
  send_flood(ws);
  REQUIRE(opstest::eventually(
      [&] { return opstest::metric(server.endpoint, "imserver_slow_client_closes_total") == 1; },
      4 * kWait));
  // What reached the socket before the queue overflowed arrives whole and in order, then the
  // close: the queued frames were dropped and nothing follows the close.
  auto deadline = std::chrono::steady_clock::now() + 4 * kWait;
  int pongs = 0;
  std::optional<Frame> close;
  while (auto f = ws.next_frame(deadline)) {
    if (f->opcode == kClose) {
      close = std::move(f);
      break;
    }
    REQUIRE(f->opcode == kPong);
    REQUIRE(f->payload == flood_payload(pongs));
    ++pongs;
  }
  REQUIRE_MESSAGE(close, "no close frame after " << pongs << " pongs");
  CHECK(close->close_code() == 1008);
  CHECK(pongs < kFloodPings);
  ws.write(masked_frame(kClose, close_body(1008)));
  std::string extra;
  CHECK(ws.wait_eof(kWait, &extra));
  CHECK(extra.empty());
}
