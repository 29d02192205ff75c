// imctl, the admin CLI, run as a subprocess (IMCTL_BIN) against an in-process server: its output
// in both forms and its documented exit codes.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "integration/ops_support.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Run {
  int code = -1;
  std::string out;
};

std::string imctl_binary() {
  const char* bin = std::getenv("IMCTL_BIN");
  if (!bin) throw std::runtime_error("IMCTL_BIN is not set (run the tests through ctest)");
  return bin;
}

// Runs `imctl <args>` through the shell; `out` is stdout, plus stderr with `with_stderr`.
Run imctl(const std::string& args, bool with_stderr = false, const std::string& env = "") {
  std::string command = env + (env.empty() ? "" : " ") + "'" + imctl_binary() + "' " + args +
                        (with_stderr ? " 2>&1" : " 2>/dev/null");
  Run run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) run.out.append(buf, n);
  int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string server_arg(const imtest::TestServer& server) {
  return "--server 127.0.0.1:" + std::to_string(server.endpoint.port);
}

std::string admin_args(const imtest::TestServer& server) {
  return server_arg(server) + " --token " + opstest::kAdminToken;
}

}  // namespace

TEST_CASE("imctl status, conns, user: tables by default, JSON with --json") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account();
  auto bob = server.account();
  auto phone = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto laptop = imclient::connect_authed(server.endpoint, alice.token, "laptop", nullptr, imclient::Transport::raw_tcp);
  phone->send(imclient::text_message(bob.user, "hi"));
  phone->expect("send_ack");

  auto status = imctl(admin_args(server) + " status");
  CHECK(status.code == 0);
  CHECK(status.out.find("connections:") != std::string::npos);
  CHECK(status.out.find("users online:") != std::string::npos);
  CHECK(status.out.find("messages/s:") != std::string::npos);

  auto raw = imctl(admin_args(server) + " --json status");
  CHECK(raw.code == 0);
  auto j = json::parse(raw.out);
  CHECK(j["connections"] == 2);
  CHECK(j["users_online"] == 1);

  auto conns = imctl(admin_args(server) + " conns");
  CHECK(conns.code == 0);
  CHECK(conns.out.find("USER") != std::string::npos);
  CHECK(conns.out.find("phone") != std::string::npos);
  CHECK(conns.out.find("laptop") != std::string::npos);
  CHECK(conns.out.find("(2 connections)") != std::string::npos);
  auto conns_json = json::parse(imctl(admin_args(server) + " conns --json").out);
  CHECK(conns_json["connections"].size() == 2);

  auto user = imctl(admin_args(server) + " user " + std::to_string(alice.user));
  CHECK(user.code == 0);
  CHECK(user.out.find("online:         yes") != std::string::npos);
  CHECK(user.out.find("DEVICE") != std::string::npos);
  CHECK(user.out.find("laptop") != std::string::npos);
  auto user_json = json::parse(imctl(admin_args(server) + " --json user " + std::to_string(alice.user)).out);
  CHECK(user_json["user"] == alice.user);
  CHECK(user_json["devices"].size() == 2);
}

TEST_CASE("imctl kick and notice act on live connections") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account();
  auto phone = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto web = imclient::connect_authed(server.endpoint, alice.token, "web");

  auto notice = imctl(admin_args(server) + " notice --all 'back in 5 minutes'");
  CHECK(notice.code == 0);
  CHECK(notice.out == "delivered to 1 user\n");
  CHECK(phone->expect("notice")["body"]["text"] == "back in 5 minutes");
  CHECK(web->expect("notice")["body"]["text"] == "back in 5 minutes");
  auto to_user = imctl(admin_args(server) + " --json notice --user " + std::to_string(alice.user) + " hello");
  CHECK(to_user.code == 0);
  CHECK(json::parse(to_user.out)["delivered"] == 1);

  auto kick = imctl(admin_args(server) + " kick " + std::to_string(alice.user) + " --device phone");
  CHECK(kick.code == 0);
  CHECK(kick.out == "kicked 1 connection\n");
  CHECK(phone->expect("kicked")["reason"] == "admin");
  CHECK(phone->wait_closed(5s) == 4004);
  web->send({{"type", "ping"}});
  web->expect("pong");
}

TEST_CASE("imctl top refreshes a bounded number of times") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account();
  auto bob = server.account();
  auto a = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "phone");
  a->send(imclient::text_message(bob.user, "x"));
  a->expect("send_ack");

  auto top = imctl(admin_args(server) + " top --iterations 2 --interval-ms 50");
  CHECK(top.code == 0);
  CHECK(top.out.find("busiest connections") != std::string::npos);
  CHECK(top.out.find("busiest users") != std::string::npos);

  auto lines = imctl(admin_args(server) + " --json top --iterations 3 --interval-ms 20");
  CHECK(lines.code == 0);
  std::istringstream in(lines.out);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    auto frame = json::parse(line);
    CHECK(frame.contains("status"));
    CHECK(frame["connections"].size() == 2);
    CHECK(frame["users"].size() == 2);
    CHECK(frame["connections"][0].contains("frames_per_s"));
    ++count;
  }
  CHECK(count == 3);
}

TEST_CASE("imctl exit codes: 0 ok, 1 server error, 2 usage, 3 unreachable or refused") {
  imtest::TestServer server(opstest::with_admin());
  CHECK(imctl("--help").code == 0);
  CHECK(imctl("--help").out.find("Exit codes") != std::string::npos);
  // 2: usage.
  CHECK(imctl("").code == 2);
  CHECK(imctl(admin_args(server) + " frobnicate").code == 2);
  CHECK(imctl(admin_args(server) + " user").code == 2);
  CHECK(imctl(admin_args(server) + " user abc").code == 2);
  CHECK(imctl(admin_args(server) + " notice hello").code == 2);
  CHECK(imctl(admin_args(server) + " notice --all --user 1 hello").code == 2);
  CHECK(imctl(admin_args(server) + " status --bogus").code == 2);
  CHECK(imctl(admin_args(server) + " top --iterations 0").code == 2);
  auto usage = imctl(admin_args(server) + " frobnicate", true);
  CHECK(usage.out.find("unknown command") != std::string::npos);
  // 1: the server answered with an error.
  auto missing = imctl(admin_args(server) + " user 987654321", true);
  CHECK(missing.code == 1);
  CHECK(missing.out.find("404") != std::string::npos);
  CHECK(imctl(admin_args(server) + " group 987654321").code == 1);
  // 3: no token, wrong token, admin API off, nobody listening.
  CHECK(imctl(server_arg(server) + " status").code == 3);
  CHECK(imctl(server_arg(server) + " --token wrong status").code == 3);
  imtest::TestServer no_admin;
  CHECK(imctl(server_arg(no_admin) + " --token x status").code == 3);
  auto port = server.endpoint.port;
  server.stop();
  CHECK(imctl("--server 127.0.0.1:" + std::to_string(port) + " --token x status").code == 3);
}

TEST_CASE("imctl reads the token from IMSERVER_ADMIN_TOKEN and accepts a URL") {
  imtest::TestServer server(opstest::with_admin());
  auto run = imctl("--server http://127.0.0.1:" + std::to_string(server.endpoint.port) + "/ status", false,
                   "IMSERVER_ADMIN_TOKEN=" + opstest::kAdminToken);
  CHECK(run.code == 0);
  CHECK(run.out.find("uptime:") != std::string::npos);
}
