// Raw TCP connections (PROTOCOL.md section 1) under back-pressure and while closing: a client that
// reads slower than the server writes to it, one that stops reading, and closes that must not be
// lost to a reset or hang on a client that never closes its side. The client's small receive
// buffer and a flood of pings make the server's writes wait; every wait is bounded by a deadline
// or polls /metrics.

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <optional>

#include "integration/ops_support.hpp"
#include "protocol/raw_framer.hpp"
#include "support/raw_socket.hpp"
#include "support/test_server.hpp"

using nlohmann::json;

namespace {

constexpr std::chrono::milliseconds kWait{5000};  // the most any expected answer may take

// A raw TCP client made by hand: length-prefixed JSON both ways.
class RawTcp : public rawsock::RawSocket {
 public:
  using RawSocket::RawSocket;

  void send(const json& frame) { write(im::length_prefixed(frame.dump())); }

  // The next frame; nullopt on deadline or EOF first.
  std::optional<json> next(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (buf_.size() - pos_ >= 4) {
        auto byte = [&](size_t i) {
          return static_cast<uint32_t>(static_cast<unsigned char>(buf_[pos_ + i]));
        };
        size_t n = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
        if (buf_.size() - pos_ >= 4 + n) {
          auto frame = json::parse(buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + 4),
                                   buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + 4 + n));
          pos_ += 4 + n;
          if (pos_ > 64 * 1024) {  // keep the buffer short without erasing per frame
            buf_.erase(0, pos_);
            pos_ = 0;
          }
          return frame;
        }
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // True once the server ended the connection (EOF or reset: see reset()) within the timeout;
  // `extra` gets what came before and was not read as a frame.
  bool wait_eof(std::chrono::milliseconds timeout, std::string* extra) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_)
      if (!fill(deadline)) break;
    *extra = buf_.substr(pos_);
    return eof_;
  }

  void open_authed(const std::string& token, const std::string& device) {
    send({{"type", "auth"}, {"token", token}, {"device", device}});
    auto ok = next(std::chrono::steady_clock::now() + kWait);
    REQUIRE(ok);
    REQUIRE((*ok)["type"] == "auth_ok");
  }

 private:
  size_t pos_ = 0;  // where the unread frames start in buf_
};

// More pong bytes (about 10 MB) than the socket buffers on the way hold, whatever the kernel's
// net.ipv4.tcp_wmem: the flood server sets its send buffer (--socket-send-buffer-bytes 64 KiB) and
// the client's small receive buffer keeps its TCP window small. So the server's writes cannot all
// complete until the client reads.
constexpr int kFloodPings = 100000;

// The rid of ping `i`: its index, padded to the longest rid (64 bytes) to make every pong large.
std::string flood_rid(int i) {
  std::string rid = std::to_string(i) + ":";
  rid.resize(64, 'x');
  return rid;
}

// Writes the whole flood of pings without reading anything.
void send_flood(RawTcp& tcp) {
  std::string flood;
  flood.reserve(static_cast<size_t>(kFloodPings) * 100);
  for (int i = 0; i < kFloodPings; ++i)
    im::append_length_prefixed(flood, json{{"type", "ping"}, {"rid", flood_rid(i)}}.dump());
  tcp.write(flood);
}

// A server for the flood: no frame rate limit, `queue_frames` as --send-queue-frames, and
// `close_timeout_ms` as --close-timeout-ms when set.
std::function<void(im::ServerOptions&)> flood_server(int64_t queue_frames, int64_t close_timeout_ms = 0) {
  return [=](im::ServerOptions& o) {
    o.rate_frames_per_s = 0;
    o.socket_send_buffer_bytes = 64 * 1024;
    o.send_queue_frames = queue_frames;
    if (close_timeout_ms > 0) o.close_timeout_ms = close_timeout_ms;
  };
}

// An authenticated client with a 4 KB receive buffer: the server's writes to it soon wait.
std::unique_ptr<RawTcp> slow_client(imtest::TestServer& server, const std::string& device) {
  auto tcp = std::make_unique<RawTcp>(server.endpoint.port, 4096);
  tcp->open_authed(server.account().token, device);
  return tcp;
}

}  // namespace

TEST_CASE("raw TCP: a client that reads slower than it is sent to gets every frame whole and in order") {
  imtest::TestServer server(flood_server(2 * kFloodPings));
  auto client = slow_client(server, "slow-reader");
  auto& tcp = *client;
  send_flood(tcp);
  // Batches of pongs were cut wherever the socket stopped taking them; each arrives whole, and
  // the stream never stalls.
  for (int i = 0; i < kFloodPings; ++i) {
    auto f = tcp.next(std::chrono::steady_clock::now() + kWait);
    REQUIRE_MESSAGE(f, "only " << i << " pongs of " << kFloodPings);
    REQUIRE((*f)["type"] == "pong");
    REQUIRE((*f)["rid"] == flood_rid(i));
  }
  // The connection still works.
  tcp.send({{"type", "ping"}, {"rid", "after"}});
  auto pong = tcp.next(std::chrono::steady_clock::now() + kWait);
  REQUIRE(pong);
  CHECK((*pong)["rid"] == "after");
}

TEST_CASE("raw TCP: a client that stops reading is closed with 1008 once its queue is full, after what it "
          "was sent") {
  // The close frame waits behind megabytes this client reads only after its flood: on a busy
  // machine that could take longer than the default 5 s the server allows before it drops the
  // connection without a close frame.
  imtest::TestServer server(flood_server(256, 60000));
  auto closes_before = opstest::metric(server.endpoint, "imserver_slow_client_closes_total");
  auto client = slow_client(server, "stalled");
  auto& tcp = *client;
  send_flood(tcp);
  REQUIRE(opstest::eventually(
      [&] { return opstest::metric(server.endpoint, "imserver_slow_client_closes_total") == closes_before + 1; },
      4 * kWait));
  // What was written before the queue overflowed arrives whole and in order, then the close
  // frame, then the end of the connection: the queued frames were dropped and nothing follows.
  auto deadline = std::chrono::steady_clock::now() + 4 * kWait;
  int pongs = 0;
  std::optional<json> close;
  while (auto f = tcp.next(deadline)) {
    if ((*f)["type"] == "close") {
      close = std::move(f);
      break;
    }
    REQUIRE((*f)["type"] == "pong");
    REQUIRE((*f)["rid"] == flood_rid(pongs));
    ++pongs;
  }
  REQUIRE_MESSAGE(close, "no close frame after " << pongs << " pongs");
  CHECK((*close)["code"] == 1008);
  CHECK(pongs < kFloodPings);
  std::string extra;
  CHECK(tcp.wait_eof(kWait, &extra));
  CHECK_FALSE(tcp.reset());  // the server read what the client still sent: no reset lost the close
  CHECK(extra.empty());
}

TEST_CASE("raw TCP: an oversize frame's close 1009 arrives intact although the client sent more behind it") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_frame_bytes = 4096; });
  auto account = server.account();
  RawTcp tcp(server.endpoint.port);
  tcp.open_authed(account.token, "oversize");
  // A prefix over the limit, then a megabyte the server cannot frame and never reads as frames.
  std::string bytes("\x00\x10\x00\x00", 4);
  bytes += std::string(1 << 20, 'z');
  tcp.write(bytes);
  auto close = tcp.next(std::chrono::steady_clock::now() + kWait);
  REQUIRE(close);
  CHECK((*close)["type"] == "close");
  CHECK((*close)["code"] == 1009);
  std::string extra;
  CHECK(tcp.wait_eof(kWait, &extra));
  CHECK_FALSE(tcp.reset());
  CHECK(extra.empty());
}

TEST_CASE("raw TCP: a closed client that keeps its socket open is let go after --close-timeout-ms") {
  // One connection per address: the next one is accepted only once the server let the first go.
  imtest::TestServer server([](im::ServerOptions& o) {
    o.auth_timeout_ms = 200;
    o.close_timeout_ms = 300;
    o.max_connections_per_ip = 1;
  });
  auto account = server.account();
  RawTcp lingering(server.endpoint.port);
  lingering.send({{"type", "ping"}});  // not an auth: the auth deadline closes it with 4002
  auto deadline = std::chrono::steady_clock::now() + kWait;
  std::optional<json> close;
  while (auto f = lingering.next(deadline))
    if ((*f)["type"] == "close") {
      close = std::move(f);
      break;
    }
  REQUIRE(close);
  CHECK((*close)["code"] == 4002);
  // The client never closes its side; the server's does after the close frame.
  std::string extra;
  CHECK(lingering.wait_eof(kWait, &extra));
  // Within --close-timeout-ms the socket is gone and the address may connect again.
  REQUIRE(opstest::eventually([&] {
    RawTcp next(server.endpoint.port);
    next.send({{"type", "auth"}, {"token", account.token}, {"device", "next"}});
    auto reply = next.next(std::chrono::steady_clock::now() + kWait);
    return reply && (*reply)["type"] == "auth_ok";
  }, kWait));
}

TEST_CASE("raw TCP: a stalled client closed with 1008 is let go after --close-timeout-ms") {
  // The close frame waits behind pongs the client never reads: only the close timer ends it. The
  // queue is large enough that the socket's buffers are full before it overflows (the flood's
  // pongs are about 10 MB, four times what the kernel holds), so the write under way is stuck.
  imtest::TestServer server(flood_server(20000, 300));
  auto open_before = opstest::metric(server.endpoint, "imserver_connections_open");
  auto client = slow_client(server, "stalled");
  REQUIRE(opstest::metric(server.endpoint, "imserver_connections_open") == open_before + 1);
  send_flood(*client);
  REQUIRE(opstest::eventually(
      [&] { return opstest::metric(server.endpoint, "imserver_slow_client_closes_total") == 1; },
      4 * kWait));
  // The connection's actor ends once the socket is closed, without the client reading a byte.
  CHECK(opstest::eventually(
      [&] { return opstest::metric(server.endpoint, "imserver_connections_open") == open_before; },
      4 * kWait));
}

TEST_CASE("raw TCP: a server shutting down does not wait forever for a client that stopped reading") {
  // The 1001 close waits behind pongs the client never reads, and the close timer (the default
  // 5 s) outlasts the server's 2 s wait for its connections: stop() closes the socket itself, so
  // that the connection's actor ends and the runtime's shutdown, which waits for it, returns.
  imtest::TestServer server(flood_server(2 * kFloodPings));
  auto client = slow_client(server, "stalled");
  send_flood(*client);
  server.stop();  // a hang here fails the test by ctest's timeout
  std::string extra;
  CHECK(client->wait_eof(4 * kWait, &extra));
}
