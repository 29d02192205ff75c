// PROTOCOL.md section 3, accounts part, over real HTTP.

#include <doctest/doctest.h>

#include <thread>

#include "support/test_server.hpp"

using imclient::http;
using nlohmann::json;

namespace {
std::string creds(const std::string& user, const std::string& pass) {
  return json{{"username", user}, {"password", pass}}.dump();
}
}  // namespace

TEST_CASE("register, login, me, users, logout") {
  imtest::TestServer server;
  auto& ep = server.endpoint;
  auto name = imclient::unique_username("acct");

  auto reg = http(ep, "POST", "/api/register", creds(name, "password123"));
  REQUIRE(reg.status == 201);
  auto user = reg.json()["user"].get<uint64_t>();
  CHECK(user > 0);
  CHECK(reg.content_type.find("application/json") != std::string::npos);

  auto again = http(ep, "POST", "/api/register", creds(name, "password456"));
  CHECK(again.status == 409);
  CHECK(again.json()["error"]["code"] == "username_taken");

  auto bad_pw = http(ep, "POST", "/api/login", creds(name, "wrong-password"));
  CHECK(bad_pw.status == 401);
  CHECK(bad_pw.json()["error"]["code"] == "bad_credentials");
  CHECK(http(ep, "POST", "/api/login", creds("nobody_here", "password123")).json()["error"]["code"] ==
        "bad_credentials");

  auto login = http(ep, "POST", "/api/login", creds(name, "password123"));
  REQUIRE(login.status == 200);
  auto token = login.json()["token"].get<std::string>();
  CHECK(login.json()["user"] == user);
  CHECK(login.json()["expires_in"] == 30 * 24 * 3600);

  auto me = http(ep, "GET", "/api/me", "", token);
  CHECK(me.status == 200);
  CHECK(me.json() == json{{"user", user}, {"username", name}});

  auto other = server.account("other");
  auto lookup = http(ep, "GET", "/api/users/" + std::to_string(user), "", other.token);
  CHECK(lookup.status == 200);
  CHECK(lookup.json()["username"] == name);
  CHECK(lookup.json()["online"] == false);
  CHECK(http(ep, "GET", "/api/users/999999", "", other.token).status == 404);
  CHECK(http(ep, "GET", "/api/users/abc", "", other.token).status == 404);

  CHECK(http(ep, "POST", "/api/logout", "", token).status == 204);
  auto after = http(ep, "GET", "/api/me", "", token);
  CHECK(after.status == 401);
  CHECK(after.json()["error"]["code"] == "unauthorized");
  CHECK(http(ep, "POST", "/api/logout", "", token).status == 401);
}

TEST_CASE("registration validates username and password") {
  imtest::TestServer server;
  struct Row {
    std::string username, password;
  };
  const Row rows[] = {{"ab", "password123"},       {std::string(33, 'a'), "password123"},
                      {"bad name", "password123"}, {"ok_name", "short"},
                      {"ok_name2", std::string(129, 'p')}};
  for (const auto& row : rows) {
    CAPTURE(row.username);
    auto res = http(server.endpoint, "POST", "/api/register", creds(row.username, row.password));
    CHECK(res.status == 400);
    CHECK(res.json()["error"]["code"] == "invalid");
  }
  CHECK(http(server.endpoint, "POST", "/api/register", creds(std::string(32, 'z'), std::string(128, 'p'))).status ==
        201);
  CHECK(http(server.endpoint, "POST", "/api/register", R"({"username":5,"password":"password123"})").status == 400);
}

TEST_CASE("missing, unknown and malformed tokens get 401") {
  imtest::TestServer server;
  CHECK(http(server.endpoint, "GET", "/api/me").status == 401);
  CHECK(http(server.endpoint, "GET", "/api/me", "", "not-a-token").status == 401);
  CHECK(http(server.endpoint, "GET", "/api/me", "", std::string(64, 'a')).status == 401);
}

TEST_CASE("tokens survive a server restart and expire after token_ttl_s") {
  imtest::TestServer server;
  auto account = server.account("persist");
  server.restart();
  CHECK(http(server.endpoint, "GET", "/api/me", "", account.token).status == 200);

  imtest::TestServer short_lived([](im::ServerOptions& o) { o.token_ttl_s = 1; });
  auto brief = short_lived.account("brief");
  CHECK(http(short_lived.endpoint, "GET", "/api/me", "", brief.token).status == 200);
  // Expiry is measured against the wall clock: poll until it passes, bounded.
  bool expired = false;
  for (int i = 0; i < 60 && !expired; ++i) {
    expired = http(short_lived.endpoint, "GET", "/api/me", "", brief.token).status == 401;
    if (!expired) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(expired);
}

TEST_CASE("healthz, metrics and unknown routes") {
  imtest::TestServer server;
  auto health = http(server.endpoint, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.json() == json{{"status", "ok"}});
  auto metrics = http(server.endpoint, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("imserver_connections_open") != std::string::npos);
  auto missing = http(server.endpoint, "GET", "/api/nope");
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"]["code"] == "not_found");
}

TEST_CASE("JSON bodies over 64 KiB get 413") {
  imtest::TestServer server;
  std::string big = json{{"username", "x"}, {"password", std::string(70 * 1024, 'p')}}.dump();
  auto res = http(server.endpoint, "POST", "/api/register", big);
  CHECK(res.status == 413);
  CHECK(res.json()["error"]["code"] == "too_large");
}
