// The compiled-in web client (net/api_static.cpp) and the username lookup the client uses
// (GET /api/users?username=NAME, net/api_accounts.cpp), over real HTTP.

#include <doctest/doctest.h>

#include "support/test_server.hpp"

using imclient::http;

TEST_CASE("GET / serves the web client; assets have their content type") {
  imtest::TestServer server;
  auto& ep = server.endpoint;

  auto index = http(ep, "GET", "/");
  CHECK(index.status == 200);
  CHECK(index.content_type.find("text/html") != std::string::npos);
  CHECK(index.body.find("<!doctype html>") != std::string::npos);
  CHECK(http(ep, "GET", "/index.html").body == index.body);
  CHECK(http(ep, "GET", "/?from=bookmark").body == index.body);

  auto script = http(ep, "GET", "/js/app.js");
  CHECK(script.status == 200);
  CHECK(script.content_type.find("text/javascript") != std::string::npos);
  auto style = http(ep, "GET", "/style.css");
  CHECK(style.status == 200);
  CHECK(style.content_type.find("text/css") != std::string::npos);
}

TEST_CASE("static files never shadow server routes and unknown files are 404") {
  imtest::TestServer server;
  auto& ep = server.endpoint;
  auto missing = http(ep, "GET", "/no-such-file.js");
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"]["code"] == "not_found");
  CHECK(http(ep, "GET", "/js/../index.html").status == 404);
  CHECK(http(ep, "POST", "/", "{}").status == 404);
  CHECK(http(ep, "GET", "/healthz").json()["status"] == "ok");
  CHECK(http(ep, "GET", "/api/me").status == 401);
  CHECK(http(ep, "GET", "/api/index.html").status != 200);
  CHECK(http(ep, "GET", "/admin/index.html").status != 200);
  CHECK(http(ep, "GET", "/files/index.html").status != 200);
  CHECK(http(ep, "GET", "/metrics").content_type.find("text/html") == std::string::npos);
}

TEST_CASE("GET /api/users?username= finds a user by exact name") {
  imtest::TestServer server;
  auto& ep = server.endpoint;
  auto asker = server.account("asker");
  auto wanted = server.account("wanted");

  auto found = http(ep, "GET", "/api/users?username=" + wanted.username, "", asker.token);
  REQUIRE(found.status == 200);
  CHECK(found.json()["user"] == wanted.user);
  CHECK(found.json()["username"] == wanted.username);
  CHECK(found.json()["online"] == false);

  auto missing = http(ep, "GET", "/api/users?username=nobody_has_this", "", asker.token);
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"]["code"] == "not_found");
  CHECK(http(ep, "GET", "/api/users?username=a", "", asker.token).json()["error"]["code"] == "invalid");
  CHECK(http(ep, "GET", "/api/users", "", asker.token).status == 400);
  CHECK(http(ep, "GET", "/api/users?username=" + wanted.username).status == 401);
}
