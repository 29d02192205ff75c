// Issue 6: the server under file-descriptor exhaustion. The real imserver runs as a subprocess with
// a lowered soft RLIMIT_NOFILE; the test opens keep-alive HTTP connections until one is no longer
// accepted, then checks that the server keeps serving the connections it has, does not spin,
// logs the episode once, counts it in /metrics, and accepts again once connections close.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

namespace {

using namespace std::chrono_literals;

constexpr long kServerOpenFiles = 128;
const char* kExhaustedLog = "out of file descriptors";
const char* kRecoveredLog = "file descriptors available again";

// A plain TCP socket to the server; closes on destruction.
struct Socket {
  int fd = -1;
  explicit Socket(uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // The kernel completes the handshake from the listen backlog even when the server cannot
    // accept, so connect succeeds either way.
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  void send_healthz() {
    std::string req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";
    REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  }
  // True when an HTTP 200 answer arrived within `timeout`.
  bool answered(std::chrono::milliseconds timeout) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.find("\r\n\r\n") == std::string::npos || got.find("\"ok\"") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[1024];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return got.rfind("HTTP/1.1 200", 0) == 0;
  }
};

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Waits (bounded) until the server log mentions `what` at least `times` times.
bool log_shows(const imtest::ServerProcess& server, const std::string& what, size_t times) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (count_of(server.log(), what) >= times) return true;
    std::this_thread::sleep_for(20ms);  // polling the log file
  }
  return false;
}

// Opens keep-alive connections that each get one /healthz answer, until one is not answered:
// that one waits in the listen backlog. Returns the answered ones; `waiting` gets the other.
std::vector<std::unique_ptr<Socket>> fill_until_refused(const imtest::ServerProcess& server,
                                                        std::unique_ptr<Socket>& waiting) {
  std::vector<std::unique_ptr<Socket>> open;
  for (int i = 0; i < 2 * kServerOpenFiles; ++i) {
    auto s = std::make_unique<Socket>(server.endpoint.port);
    s->send_healthz();
    if (!s->answered(1500ms)) {
      waiting = std::move(s);
      return open;
    }
    open.push_back(std::move(s));
  }
  FAIL("the server accepted " << open.size() << " connections under a limit of " << kServerOpenFiles);
  return open;
}

double exhausted_metric(const imclient::Endpoint& endpoint) {
  auto body = imclient::http(endpoint, "GET", "/metrics").body;
  auto at = body.find("\nimserver_accept_fd_exhausted_total ");
  REQUIRE(at != std::string::npos);
  return std::stod(body.substr(at + std::string("\nimserver_accept_fd_exhausted_total ").size()));
}

}  // namespace

TEST_CASE("out of file descriptors: existing connections are served, no spinning, one log line, recovery") {
  imtest::TempDir dir;
  imtest::ServerProcess server(dir.path(),
                               {"--password-hash-cost", "min", "--http-timeout-ms", "600000", "--log-level", "info"},
                               kServerOpenFiles);
  auto account = imclient::register_and_login(server.endpoint, imclient::unique_username("fd"), "password123");
  auto ws = imclient::connect_authed(server.endpoint, account.token, "phone");

  // Episode 1.
  std::unique_ptr<Socket> waiting;
  auto open = fill_until_refused(server, waiting);
  REQUIRE(waiting);
  REQUIRE(open.size() > 10);
  REQUIRE(log_shows(server, kExhaustedLog, 1));

  // No spinning: over a second of exhaustion the server uses little CPU (it retries accept every
  // 50 ms); and it logged the episode once, however many retries that was.
  double cpu_before = cpu_seconds(server.pid());
  auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(waiting->answered(1000ms));  // still not accepted a second later
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double cpu_used = cpu_seconds(server.pid()) - cpu_before;
  CHECK(cpu_used < 0.25 * waited);
  CHECK(count_of(server.log(), kExhaustedLog) == 1);

  // Existing connections keep being served: a WebSocket ping gets its pong, a keep-alive HTTP
  // connection gets another answer.
  ws->send({{"type", "ping"}});
  ws->expect("pong");  // throws (and fails the test) if no pong comes
  open.front()->send_healthz();
  CHECK(open.front()->answered(2000ms));

  // Closing some connections frees descriptors: the waiting connection is accepted and answered,
  // new connections are accepted, and the episode shows in /metrics and the log.
  open.resize(open.size() - 8);
  CHECK(waiting->answered(5000ms));
  CHECK(exhausted_metric(server.endpoint) >= 1);
  CHECK(log_shows(server, kRecoveredLog, 1));
  CHECK(count_of(server.log(), kExhaustedLog) == 1);

  // Episode 2 is logged once more.
  std::unique_ptr<Socket> waiting_again;
  auto more = fill_until_refused(server, waiting_again);
  REQUIRE(waiting_again);
  CHECK(log_shows(server, kExhaustedLog, 2));
  more.clear();
  CHECK(waiting_again->answered(5000ms));
  CHECK(count_of(server.log(), kExhaustedLog) == 2);
  ws->send({{"type", "ping"}});
  ws->expect("pong");  // throws (and fails the test) if no pong comes
}
