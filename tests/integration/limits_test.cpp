// Per-source limits (issue 5): live connections per client address (--max-connections-per-ip)
// and failed logins per username and per address (--login-attempts-per-min[-per-ip]).

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "integration/ops_support.hpp"
#include "support/server_process.hpp"

using imclient::Connection;
using imclient::Encoding;
using imclient::Transport;
using nlohmann::json;
using opstest::eventually;
using namespace std::chrono_literals;

namespace {

imclient::HttpResponse try_login(const imclient::Endpoint& e, const std::string& username, const std::string& password) {
  return imclient::http(e, "POST", "/api/login", json{{"username", username}, {"password", password}}.dump());
}

uint64_t metric(const imclient::Endpoint& e, const std::string& name) {
  auto text = imclient::http(e, "GET", "/metrics").body;
  auto pos = text.find("\n" + name + " ");
  return pos == std::string::npos ? 0 : std::stoull(text.substr(pos + name.size() + 2));
}

// Why a WebSocket upgrade failed ("" when it did not): a refusal must be the server's 429, not a
// timeout or a reset.
std::string upgrade_failure(const imclient::Endpoint& endpoint) {
  try {
    Connection::open(endpoint, Transport::websocket, Encoding::json);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("--max-connections-per-ip: WebSocket gets 429, raw TCP a rate_limited error and close 1008") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_connections_per_ip = 3; });
  auto account = server.account();
  std::vector<std::unique_ptr<Connection>> open;
  open.push_back(imclient::connect_authed(server.endpoint, account.token, "a"));
  open.push_back(imclient::connect_authed(server.endpoint, account.token, "b", nullptr, Transport::raw_tcp));
  open.push_back(Connection::open(server.endpoint, Transport::websocket, Encoding::json));  // not authenticated: counts
  open.back()->expect("auth_required");

  // The fourth WebSocket is refused at the upgrade.
  auto upgrade = imclient::http(server.endpoint, "GET", "/ws");  // not an upgrade: plain HTTP is not limited
  CHECK(upgrade.status != 429);
  auto refused = upgrade_failure(server.endpoint);
  CHECK_MESSAGE(refused.find("(HTTP 429)") != std::string::npos, refused);
  // The fourth raw TCP connection gets an error and the close frame.
  auto raw = Connection::open(server.endpoint, Transport::raw_tcp, Encoding::json);
  raw->send({{"type", "auth"}, {"token", account.token}, {"device", "c"}});
  auto error = raw->expect("error");
  CHECK(error["code"] == "rate_limited");
  CHECK(raw->wait_closed(5s) == 1008);
  CHECK(metric(server.endpoint, "imserver_connections_rejected_per_ip_total") == 2);

  // The connections that were there are untouched.
  open[0]->send({{"type", "ping"}});
  open[0]->expect("pong");
  open[1]->send({{"type", "ping"}});
  open[1]->expect("pong");

  // When one leaves there is room again.
  open[2]->close();
  std::unique_ptr<Connection> again;
  CHECK(eventually([&] {
    try {
      again = imclient::connect_authed(server.endpoint, account.token, "d");
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
}

TEST_CASE("the default limits let one address open many connections (loopback tests, NAT)") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_devices = 64; });
  CHECK(server.options.max_connections_per_ip >= 1000);
  auto account = server.account();
  std::vector<std::unique_ptr<Connection>> open;
  for (int i = 0; i < 40; ++i)
    open.push_back(imclient::connect_authed(server.endpoint, account.token, "d" + std::to_string(i),
                                            nullptr, i % 2 ? Transport::raw_tcp : Transport::websocket));
  open.back()->send({{"type", "ping"}});
  open.back()->expect("pong");
}

TEST_CASE("failed logins per username: past the limit even the right password gets 429") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.login_attempts_per_min = 3;
    o.login_attempts_per_min_per_ip = 1000;
  });
  auto victim = server.account("victim");
  auto bystander = server.account("bystander");
  for (int i = 0; i < 3; ++i) {
    auto res = try_login(server.endpoint, victim.username, "wrong-password");
    CHECK(res.status == 401);
    CHECK(opstest::error_code(res) == "bad_credentials");
  }
  auto blocked = try_login(server.endpoint, victim.username, victim.password);
  CHECK(blocked.status == 429);
  CHECK(opstest::error_code(blocked) == "rate_limited");
  CHECK(try_login(server.endpoint, victim.username, "wrong-password").status == 429);
  // Another user from the same address is not affected, and successful logins never count.
  for (int i = 0; i < 5; ++i) CHECK(try_login(server.endpoint, bystander.username, bystander.password).status == 200);
  // Tokens already issued keep working.
  CHECK(imclient::http(server.endpoint, "GET", "/api/me", "", victim.token).status == 200);
  CHECK(metric(server.endpoint, "imserver_login_rate_limited_total") == 2);
}

TEST_CASE("failed logins per address: many usernames from one address are stopped") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.login_attempts_per_min = 1000;
    o.login_attempts_per_min_per_ip = 4;
  });
  auto account = server.account();
  // Successful logins first: they do not count.
  for (int i = 0; i < 6; ++i) CHECK(try_login(server.endpoint, account.username, account.password).status == 200);
  for (int i = 0; i < 4; ++i)
    CHECK(try_login(server.endpoint, "nobody" + std::to_string(i), "wrong-password").status == 401);
  auto res = try_login(server.endpoint, account.username, account.password);
  CHECK(res.status == 429);
  CHECK(opstest::error_code(res) == "rate_limited");
}

TEST_CASE("limits are flags of the binary") {
  imtest::TempDir data;
  imtest::ServerProcess process(data.path(), {"--max-connections-per-ip", "1", "--login-attempts-per-min", "1",
                                              "--login-attempts-per-min-per-ip", "0", "--password-hash-cost", "min"});
  auto account = imclient::register_and_login(process.endpoint, imclient::unique_username("f"), "password123");
  auto first = imclient::connect_authed(process.endpoint, account.token, "a");
  auto refused = upgrade_failure(process.endpoint);
  CHECK_MESSAGE(refused.find("(HTTP 429)") != std::string::npos, refused);
  CHECK(try_login(process.endpoint, account.username, "wrong-password").status == 401);
  CHECK(try_login(process.endpoint, account.username, account.password).status == 429);
}
