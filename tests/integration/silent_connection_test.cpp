// PROTOCOL.md section 4: a connection that sends nothing at all is closed at the auth deadline
// (--auth-timeout-ms from accept), like any other unauthenticated connection. Runs the real
// imserver binary.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "client/client.hpp"
#include "support/raw_socket.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A client that connects and then says nothing (or only `bytes`), and notices when the server
// closes.
class SilentClient : public rawsock::RawSocket {
 public:
  explicit SilentClient(uint16_t port) : RawSocket(port) {}
  // True when the server closed the connection before `deadline`; nothing the server sends before
  // that is expected.
  bool closed_by(Clock::time_point deadline) {
    while (fill(deadline)) {
    }
    return eof();
  }
  const std::string& received() const { return buf_; }
};

}  // namespace

TEST_CASE("a connection that never sends a byte is closed at --auth-timeout-ms, not the HTTP timeout") {
  imtest::TempDir data;
  imtest::ServerProcess server(data.path(), {"--auth-timeout-ms", "400", "--http-timeout-ms", "60000",
                                             "--password-hash-cost", "min"});
  auto opened = Clock::now();
  std::vector<std::unique_ptr<SilentClient>> silent;
  for (int i = 0; i < 20; ++i) silent.push_back(std::make_unique<SilentClient>(server.endpoint.port));
  // A client that sent one byte, too little to tell HTTP from raw TCP, is just as unauthenticated.
  auto partial = std::make_unique<SilentClient>(server.endpoint.port);
  partial->write("G");
  for (auto& s : silent) {
    CHECK(s->closed_by(opened + 10s));
    CHECK(s->received().empty());  // no transport known: nothing to say, just the close
  }
  CHECK(partial->closed_by(opened + 10s));
  auto elapsed = Clock::now() - opened;
  CHECK(elapsed >= 350ms);  // not before the deadline
  CHECK(elapsed < 5s);      // long before the 60 s HTTP timeout

  // The server is fine, and a client that speaks in time is served as before.
  CHECK(imclient::http(server.endpoint, "GET", "/healthz").status == 200);
  auto account = imclient::register_and_login(server.endpoint, imclient::unique_username("s"), "password123");
  auto conn = imclient::connect_authed(server.endpoint, account.token, "d", nullptr, imclient::Transport::raw_tcp);
  conn->send({{"type", "ping"}});
  conn->expect("pong");
}

TEST_CASE("a silent connection is held for the whole auth timeout") {
  imtest::TempDir data;
  imtest::ServerProcess server(data.path(), {"--auth-timeout-ms", "3000", "--http-timeout-ms", "200",
                                             "--password-hash-cost", "min"});
  auto opened = Clock::now();
  SilentClient silent(server.endpoint.port);
  // Still open well past the (shorter) HTTP timeout ...
  CHECK_FALSE(silent.closed_by(opened + 1500ms));
  // ... and closed at the auth deadline.
  CHECK(silent.closed_by(opened + 10s));
  CHECK(Clock::now() - opened >= 2900ms);
}
