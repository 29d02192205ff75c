// TLS end to end (PROTOCOL.md section 1): with a certificate configured, the one port serves
// https://, wss:// and raw TCP over TLS, and still serves plain connections. The certificate is a
// self-signed one made here with the openssl command.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include <csignal>

#include "integration/ops_support.hpp"
#include "support/server_process.hpp"

using imclient::Encoding;
using imclient::Transport;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Writes cert.pem and key.pem into `dir`.
void make_self_signed(const std::string& dir) {
  std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout '" + dir +
                        "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "openssl req failed");
  REQUIRE(std::filesystem::exists(dir + "/cert.pem"));
}

std::string transport_of(const imclient::Endpoint& e, uint64_t user, const std::string& device) {
  auto answer = opstest::admin_json(e, "/admin/connections");  // kept alive for the loop
  for (const auto& c : answer["connections"])
    if (c["user"] == user && c["device"] == device) return c["transport"].get<std::string>();
  return "";
}

}  // namespace

TEST_CASE("https, wss and raw TLS work, and plain connections still work on the same port") {
  imtest::TempDir certs;
  make_self_signed(certs.path());
  imtest::TestServer server(opstest::with_admin([&](im::ServerOptions& o) {
    o.tls_cert = certs.path() + "/cert.pem";
    o.tls_key = certs.path() + "/key.pem";
  }));
  auto tls = server.endpoint;
  tls.tls = true;
  auto plain = server.endpoint;

  // HTTPS: register, login, me.
  auto account = imclient::register_and_login(tls, imclient::unique_username("tls"), "password123");
  auto me = imclient::require_status(imclient::http(tls, "GET", "/api/me", "", account.token), 200, "GET /api/me");
  CHECK(me["user"] == account.user);
  CHECK(imclient::http(tls, "GET", "/healthz").status == 200);

  // WSS: auth and ping.
  json ok;
  auto wss = imclient::connect_authed(tls, account.token, "wss-device", &ok);
  CHECK(ok["user"] == account.user);
  wss->send({{"type", "ping"}, {"rid", "w"}});
  CHECK(wss->expect("pong")["rid"] == "w");

  // Raw TCP over TLS: auth and ping.
  auto raw_tls = imclient::connect_authed(tls, account.token, "tls-device", nullptr, Transport::raw_tcp);
  raw_tls->send({{"type", "ping"}, {"rid", "t"}});
  CHECK(raw_tls->expect("pong")["rid"] == "t");

  // Plain HTTP, WebSocket and raw TCP on the same port.
  auto other = imclient::register_and_login(plain, imclient::unique_username("plain"), "password123");
  auto ws = imclient::connect_authed(plain, other.token, "ws-device");
  auto tcp = imclient::connect_authed(plain, other.token, "tcp-device", nullptr, Transport::raw_tcp);
  tcp->send({{"type", "ping"}});
  tcp->expect("pong");

  // A message crosses from a TLS connection to a plain one.
  wss->send(imclient::text_message(other.user, "over tls"));
  wss->expect("send_ack");
  CHECK(ws->expect("msg")["body"]["text"] == "over tls");
  CHECK(tcp->expect("msg")["body"]["text"] == "over tls");

  // The server knows which is which.
  CHECK(transport_of(plain, account.user, "wss-device") == "wss");
  CHECK(transport_of(plain, account.user, "tls-device") == "tls");
  CHECK(transport_of(plain, other.user, "ws-device") == "ws");
  CHECK(transport_of(plain, other.user, "tcp-device") == "tcp");
  // The admin API over HTTPS too.
  CHECK(opstest::admin_get(tls, "/admin/status").status == 200);
}

TEST_CASE("a TLS server started by the binary serves https and wss") {
  imtest::TempDir certs;
  make_self_signed(certs.path());
  imtest::TempDir data;
  imtest::ServerProcess process(data.path(), {"--tls-cert", certs.path() + "/cert.pem", "--tls-key",
                                              certs.path() + "/key.pem", "--password-hash-cost", "min",
                                              "--log-level", "warn"});
  auto tls = process.endpoint;
  tls.tls = true;
  auto account = imclient::register_and_login(tls, imclient::unique_username("bin"), "password123");
  auto wss = imclient::connect_authed(tls, account.token, "d");
  wss->send({{"type", "ping"}});
  wss->expect("pong");
  CHECK(process.stop(SIGTERM) == 0);
}

TEST_CASE("a bad certificate path stops the server at start") {
  imtest::TempDir data;
  bool threw = false;
  try {
    imtest::TestServer server([&](im::ServerOptions& o) {
      o.tls_cert = data.path() + "/missing-cert.pem";
      o.tls_key = data.path() + "/missing-key.pem";
    });
  } catch (const std::exception& e) {
    threw = std::string(e.what()).find("TLS") != std::string::npos;
  }
  CHECK(threw);
}
