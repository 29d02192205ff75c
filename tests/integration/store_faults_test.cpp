// A store that refuses writes (issue 21): the binary under RLIMIT_FSIZE, so that LevelDB's log
// cannot grow past a size, as on a full disk. The server must not look healthy: /healthz answers
// 503, a metric counts the refused writes, one error line says why, and no send is acknowledged.

#include <doctest/doctest.h>

#include <signal.h>

#include <sstream>

#include "integration/ops_support.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

// Lines logged at level error (the pattern is "<time> <level> <text>", tools/imserver/main.cpp).
size_t error_lines(const std::string& log) {
  std::istringstream in(log);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    auto first = line.find(' ');
    if (first != std::string::npos && line.compare(first + 1, 6, "error ") == 0) ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("after LevelDB refuses a write: /healthz 503, a metric, one error line, no send_ack") {
  imtest::TempDir dir;
  const long kFileLimit = 1 << 20;  // LevelDB's log may not grow past 1 MiB
  imtest::ServerProcess server(dir.path(),
                               {"--password-hash-cost", "min", "--log-level", "warn", "--rate-sends-per-s", "0",
                                "--rate-frames-per-s", "0"},
                               0, kFileLimit);
  auto alice = imclient::register_and_login(server.endpoint, "full_alice", "password123");
  auto bob = imclient::register_and_login(server.endpoint, "full_bob", "password123");
  auto conn = imclient::connect_authed(server.endpoint, alice.token, "a");
  const std::string filler(12000, 'x');  // under --max-body-bytes

  // Each send stores its body once: the log reaches the limit within about 90 of them.
  int acked = 0;
  json refused;
  for (int i = 0; i < 400 && refused.is_null(); ++i) {
    conn->send(imclient::text_message(bob.user, filler));
    auto answer = conn->next(10s);
    while (answer && (*answer)["type"] == "msg") answer = conn->next(10s);  // its own copy
    REQUIRE(answer);
    if ((*answer)["type"] == "send_ack") ++acked;
    else refused = *answer;
  }
  REQUIRE_FALSE(refused.is_null());
  CHECK(refused["type"] == "error");
  CHECK(refused["code"] == "unavailable");
  CHECK(acked > 0);

  auto health = imclient::http(server.endpoint, "GET", "/healthz");
  CHECK(health.status == 503);
  CHECK(health.json()["status"] == "store_failed");
  auto errors = opstest::metric(server.endpoint, "imserver_store_write_errors_total");
  CHECK(errors >= 1);

  // Later sends are refused too, counted, and not logged again.
  for (int i = 0; i < 3; ++i) {
    conn->send(imclient::text_message(bob.user, "small"));
    auto answer = conn->expect("error", 10s);
    CHECK(answer["code"] == "unavailable");
  }
  CHECK(opstest::metric(server.endpoint, "imserver_store_write_errors_total") >= errors + 3);
  CHECK(imclient::http(server.endpoint, "GET", "/healthz").status == 503);
  server.stop(SIGKILL);
  CHECK(occurrences(server.log(), "store: a write failed") == 1);
  CHECK(error_lines(server.log()) == 1);
}
