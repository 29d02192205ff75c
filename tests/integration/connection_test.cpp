// PROTOCOL.md section 4: connection life, over real WebSocket and raw TCP sockets, with
// millisecond timeouts from flags.

#include <doctest/doctest.h>

#include <thread>

#include "support/test_server.hpp"

using imclient::Connection;
using imclient::Encoding;
using imclient::Transport;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
json auth_frame(const std::string& token, const std::string& device) {
  return {{"type", "auth"}, {"token", token}, {"device", device}};
}
}  // namespace

TEST_CASE("WebSocket: auth_required at once, reminders, then close 4002 at the deadline") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.auth_timeout_ms = 600;
    // Five reminders are due before the deadline; the check below asks for three, so that timers
    // late on a loaded machine (seen with a benchmark beside ctest -j2) do not fail it.
    o.auth_reminder_ms = 100;
  });
  auto start = std::chrono::steady_clock::now();
  auto conn = Connection::open(server.endpoint, Transport::websocket, Encoding::json);
  auto first = conn->expect("auth_required", 1s);
  CHECK(first["deadline_ms"].get<int64_t>() <= 600);
  CHECK(first["deadline_ms"].get<int64_t>() > 300);
  auto second = conn->expect("auth_required", 1s);
  CHECK(second["deadline_ms"].get<int64_t>() < first["deadline_ms"].get<int64_t>());
  auto code = conn->wait_closed(3s);
  REQUIRE(code);
  CHECK(*code == 4002);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= 550ms);
  // Reminders kept coming until the close: at least 3 in 600 ms at 100 ms apart.
  int reminders = 2;
  while (auto f = conn->next(0ms))
    if ((*f)["type"] == "auth_required") ++reminders;
  CHECK(reminders >= 3);
}

TEST_CASE("requests before auth get error auth_required and the connection stays") {
  imtest::TestServer server;
  auto account = server.account();
  auto conn = Connection::open(server.endpoint, Transport::websocket, Encoding::json);
  conn->expect("auth_required");
  conn->send({{"type", "ping"}, {"rid", "r1"}});
  auto err = conn->expect("error");
  CHECK(err["code"] == "auth_required");
  CHECK(err["rid"] == "r1");
  conn->send({{"type", "send"}, {"cid", "c"}, {"to", {{"user", 1}}}, {"body", json::object()}});
  CHECK(conn->expect("error")["code"] == "auth_required");
  conn->send(auth_frame(account.token, "phone"));
  auto ok = conn->expect("auth_ok");
  CHECK(ok["user"] == account.user);
}

TEST_CASE("auth_ok carries user, device, useq, heartbeat_ms, next_cseq and gap") {
  imtest::TestServer server([](im::ServerOptions& o) { o.heartbeat_ms = 1234; });
  auto account = server.account();
  json ok;
  auto conn = imclient::connect_authed(server.endpoint, account.token, "laptop", &ok);
  CHECK(ok["type"] == "auth_ok");
  CHECK(ok["user"] == account.user);
  CHECK(ok["device"] == "laptop");
  CHECK(ok["useq"] == 0);
  CHECK(ok["heartbeat_ms"] == 1234);
  CHECK(ok["next_cseq"] == 1);
  CHECK(ok["gap"] == false);
  conn->send({{"type", "ping"}, {"rid", "p"}});
  auto pong = conn->expect("pong");
  CHECK(pong["rid"] == "p");
  CHECK(pong["ts"].get<int64_t>() > 1700000000000LL);
}

TEST_CASE("a bad token gets auth_failed and close 4001") {
  imtest::TestServer server;
  for (auto transport : {Transport::websocket, Transport::raw_tcp}) {
    auto conn = Connection::open(server.endpoint, transport, Encoding::json);
    conn->send(auth_frame("bogus-token", "d"));
    CHECK(conn->expect("error")["code"] == "auth_failed");
    auto code = conn->wait_closed(2s);
    REQUIRE(code);
    CHECK(*code == 4001);
  }
}

TEST_CASE("raw TCP: nothing before the client speaks, reminders after a non-auth frame, 4002") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.auth_timeout_ms = 800;
    o.auth_reminder_ms = 100;
  });
  auto conn = Connection::open(server.endpoint, Transport::raw_tcp, Encoding::json);
  CHECK_FALSE(conn->next(150ms));  // the server cannot know the transport yet
  conn->send({{"type", "ping"}});
  CHECK(conn->expect("error")["code"] == "auth_required");
  conn->expect("auth_required");
  conn->expect("auth_required");
  auto code = conn->wait_closed(3s);
  REQUIRE(code);
  CHECK(*code == 4002);
}

TEST_CASE("raw TCP: auth as the first frame works") {
  imtest::TestServer server;
  auto account = server.account();
  json ok;
  auto conn = imclient::connect_authed(server.endpoint, account.token, "tcp-dev", &ok, Transport::raw_tcp);
  CHECK(ok["user"] == account.user);
  conn->send({{"type", "ping"}});
  conn->expect("pong");
}

TEST_CASE("idle connections close with 4003; pings and WebSocket ping frames keep them open") {
  imtest::TestServer server([](im::ServerOptions& o) { o.idle_timeout_ms = 300; });
  auto account = server.account();
  auto quiet = imclient::connect_authed(server.endpoint, account.token, "quiet");
  auto chatty = imclient::connect_authed(server.endpoint, account.token, "chatty");
  auto pinger = imclient::connect_authed(server.endpoint, account.token, "pinger");
  auto start = std::chrono::steady_clock::now();
  std::optional<int> quiet_code;
  // Keep two alive for 900 ms (three idle periods), one with JSON pings, one with ping frames.
  while (std::chrono::steady_clock::now() - start < 900ms) {
    chatty->send({{"type", "ping"}});
    pinger->send_ws_ping();
    if (!quiet_code) quiet_code = quiet->wait_closed(100ms);
    else std::this_thread::sleep_for(100ms);  // pacing of the keep-alive loop, not synchronisation
  }
  REQUIRE(quiet_code);
  CHECK(*quiet_code == 4003);
  CHECK_FALSE(chatty->closed());
  CHECK_FALSE(pinger->closed());
  CHECK(pinger->wait_closed(2s) == std::optional<int>(4003));
}

TEST_CASE("the same device again replaces the first connection (kicked replaced, 4004)") {
  imtest::TestServer server;
  auto account = server.account();
  auto first = imclient::connect_authed(server.endpoint, account.token, "phone");
  auto second = imclient::connect_authed(server.endpoint, account.token, "phone");
  CHECK(first->expect("kicked")["reason"] == "replaced");
  CHECK(first->wait_closed(2s) == std::optional<int>(4004));
  second->send({{"type", "ping"}});
  second->expect("pong");
}

TEST_CASE("more than max_devices: too_many_devices and 4001; the others stay") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_devices = 2; });
  auto account = server.account();
  auto a = imclient::connect_authed(server.endpoint, account.token, "a");
  auto b = imclient::connect_authed(server.endpoint, account.token, "b");
  auto c = Connection::open(server.endpoint, Transport::websocket, Encoding::json);
  c->expect("auth_required");
  c->send(auth_frame(account.token, "c"));
  CHECK(c->expect("error")["code"] == "too_many_devices");
  CHECK(c->wait_closed(2s) == std::optional<int>(4001));
  for (auto* conn : {a.get(), b.get()}) {
    conn->send({{"type", "ping"}});
    conn->expect("pong");
  }
  // A device that leaves frees its place.
  a->close();
  bool admitted = false;
  for (int i = 0; i < 50 && !admitted; ++i) {
    auto d = Connection::open(server.endpoint, Transport::websocket, Encoding::json);
    d->expect("auth_required");
    d->send(auth_frame(account.token, "d"));
    auto reply = d->next(2s);
    admitted = reply && (*reply)["type"] == "auth_ok";
  }
  CHECK(admitted);
}

TEST_CASE("logout kicks the connections that used the token (kicked logout, 4004)") {
  imtest::TestServer server;
  auto account = server.account();
  auto other_login = imclient::login(server.endpoint, account.username, account.password);
  auto via_logout = imclient::connect_authed(server.endpoint, account.token, "one");
  auto other_token = imclient::connect_authed(server.endpoint, other_login.token, "two");
  CHECK(imclient::http(server.endpoint, "POST", "/api/logout", "", account.token).status == 204);
  CHECK(via_logout->expect("kicked")["reason"] == "logout");
  CHECK(via_logout->wait_closed(2s) == std::optional<int>(4004));
  other_token->send({{"type", "ping"}});
  other_token->expect("pong");
  // And the revoked token cannot authenticate again.
  auto again = Connection::open(server.endpoint, Transport::websocket, Encoding::json);
  again->send(auth_frame(account.token, "three"));
  CHECK(again->expect("error")["code"] == "auth_failed");
}

TEST_CASE("unknown type gets unknown_type and the connection stays open") {
  imtest::TestServer server;
  auto account = server.account();
  auto conn = imclient::connect_authed(server.endpoint, account.token, "d");
  conn->send({{"type", "teleport"}, {"rid", "x1"}});
  auto err = conn->expect("error");
  CHECK(err["code"] == "unknown_type");
  CHECK(err["rid"] == "x1");
  conn->send({{"type", "ping"}});
  conn->expect("pong");
}

TEST_CASE("MessagePack: binary frames are answered in MessagePack") {
  imtest::TestServer server;
  auto account = server.account();
  json ok;
  auto conn = imclient::connect_authed(server.endpoint, account.token, "mp", &ok, Transport::websocket,
                                       Encoding::msgpack);
  CHECK(ok["user"] == account.user);
  conn->send({{"type", "ping"}, {"rid", "m"}});
  auto pong = conn->expect("pong");
  CHECK(pong["rid"] == "m");
}

TEST_CASE("server shutdown closes WebSockets with 1001") {
  imtest::TestServer server;
  auto account = server.account();
  auto conn = imclient::connect_authed(server.endpoint, account.token, "d");
  auto raw = imclient::connect_authed(server.endpoint, account.token, "r", nullptr, Transport::raw_tcp);
  server.stop();
  CHECK(conn->wait_closed(3s) == std::optional<int>(1001));
  CHECK(raw->wait_closed(3s) == std::optional<int>(1001));
}

TEST_CASE("GET /api/users shows online while a device is connected") {
  imtest::TestServer server;
  auto alice = server.account("alice");
  auto bob = server.account("bob");
  auto path = "/api/users/" + std::to_string(alice.user);
  CHECK(imclient::http(server.endpoint, "GET", path, "", bob.token).json()["online"] == false);
  auto conn = imclient::connect_authed(server.endpoint, alice.token, "d");
  CHECK(imclient::http(server.endpoint, "GET", path, "", bob.token).json()["online"] == true);
}
