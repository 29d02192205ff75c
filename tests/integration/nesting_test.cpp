// Deeply nested input against the real binary (PROTOCOL.md section 1, --max-nesting): frames in
// both encodings, before and after auth, and HTTP JSON bodies get bad_request, and the server
// keeps serving everyone else. Without the limit, nlohmann's MessagePack reader and dump()
// recurse once per level and 100,000 levels overflow the stack (SIGSEGV).

#include <doctest/doctest.h>

#include "support/server_process.hpp"
#include "support/test_server.hpp"

using imclient::Connection;
using imclient::Encoding;
using imclient::Transport;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kArgs = {"--password-hash-cost", "min", "--log-level", "warn"};

// {"type":"send",...,"body":{"a":<arrays nested arrays>}}: the frame is arrays + 2 levels deep.
std::string deep_send_json(uint64_t to, const std::string& cid, size_t arrays) {
  return R"({"type":"send","cid":")" + cid + R"(","to":{"user":)" + std::to_string(to) +
         R"(},"body":{"a":)" + std::string(arrays, '[') + std::string(arrays, ']') + "}}";
}

// The same frame in MessagePack.
std::string deep_send_msgpack(uint64_t to, const std::string& cid, size_t arrays) {
  json frame{{"type", "send"}, {"cid", cid}, {"to", {{"user", to}}}, {"body", {{"a", nullptr}}}};
  auto packed = json::to_msgpack(frame);
  std::string bytes(packed.begin(), packed.end());
  auto at = bytes.find('\xc0');  // the body's nil
  REQUIRE(at != std::string::npos);
  return bytes.substr(0, at) + std::string(arrays - 1, '\x91') + '\x90' + bytes.substr(at + 1);
}

void expect_serving(const imclient::Endpoint& endpoint, Connection& bystander) {
  bystander.send({{"type", "ping"}});
  bystander.expect("pong");
  CHECK(imclient::http(endpoint, "GET", "/healthz").status == 200);
}

void expect_bad_request(Connection& conn) {
  auto err = conn.expect("error");
  CHECK(err["code"] == "bad_request");
  CHECK(err["message"].get<std::string>().find("nested deeper") != std::string::npos);
}

}  // namespace

TEST_CASE("100,000 nested MessagePack arrays before auth: bad_request, everyone else unaffected") {
  imtest::TempDir dir;
  imtest::ServerProcess server(dir.path(), kArgs);
  auto account = imclient::register_and_login(server.endpoint, imclient::unique_username("by"), "password123");
  auto bystander = imclient::connect_authed(server.endpoint, account.token, "bystander");

  auto anon = Connection::open(server.endpoint, Transport::websocket, Encoding::msgpack);
  anon->expect("auth_required");
  anon->send_bytes_raw(std::string(100000, '\x91'));  // the issue's frame: 0x91 repeated
  expect_bad_request(*anon);
  anon->send_bytes_raw(std::string(100000, '\x91') + '\xc0');  // the same, terminated
  expect_bad_request(*anon);
  expect_serving(server.endpoint, *bystander);
  // The connection stays usable, as after any bad_request.
  anon->send({{"type", "auth"}, {"token", account.token}, {"device", "anon"}});
  anon->expect("auth_ok");

  // JSON before auth, on a WebSocket and on raw TCP.
  auto ws = Connection::open(server.endpoint, Transport::websocket, Encoding::json);
  ws->send_text_raw(std::string(100000, '[') + std::string(100000, ']'));
  expect_bad_request(*ws);
  auto tcp = Connection::open(server.endpoint, Transport::raw_tcp, Encoding::json);
  tcp->send_text_raw(R"({"type":"auth","x":)" + std::string(200000, '['));
  expect_bad_request(*tcp);
  expect_serving(server.endpoint, *bystander);
}

TEST_CASE("an authenticated send whose body nests 100,000 arrays gets bad_request") {
  imtest::TempDir dir;
  imtest::ServerProcess server(dir.path(), kArgs);
  auto alice = imclient::register_and_login(server.endpoint, imclient::unique_username("a"), "password123");
  auto bob = imclient::register_and_login(server.endpoint, imclient::unique_username("b"), "password123");
  auto bystander = imclient::connect_authed(server.endpoint, bob.token, "bystander");

  auto ws = imclient::connect_authed(server.endpoint, alice.token, "ws");
  auto frame = deep_send_json(bob.user, "deep1", 100000);
  REQUIRE(frame.size() > 200000);
  ws->send_text_raw(frame);
  expect_bad_request(*ws);

  auto tcp = imclient::connect_authed(server.endpoint, alice.token, "tcp", nullptr, Transport::raw_tcp);
  tcp->send_text_raw(deep_send_json(bob.user, "deep2", 100000));
  expect_bad_request(*tcp);

  auto mp = imclient::connect_authed(server.endpoint, alice.token, "mp", nullptr, Transport::websocket,
                                     Encoding::msgpack);
  mp->send_bytes_raw(deep_send_msgpack(bob.user, "deep3", 100000));
  expect_bad_request(*mp);

  expect_serving(server.endpoint, *bystander);
  // Nothing of the refused sends reached Bob.
  for (const auto& f : bystander->skipped()) CHECK(f["type"] != "msg");
  ws->send({{"type", "ping"}});
  ws->expect("pong");
}

TEST_CASE("a frame of exactly max_nesting levels is accepted, one more is not") {
  imtest::TempDir dir;
  imtest::ServerProcess server(dir.path(), kArgs);
  auto alice = imclient::register_and_login(server.endpoint, imclient::unique_username("a"), "password123");
  auto bob = imclient::register_and_login(server.endpoint, imclient::unique_username("b"), "password123");
  auto receiver = imclient::connect_authed(server.endpoint, bob.token, "phone");
  auto ws = imclient::connect_authed(server.endpoint, alice.token, "ws");
  auto mp = imclient::connect_authed(server.endpoint, alice.token, "mp", nullptr, Transport::websocket,
                                     Encoding::msgpack);

  // The frame is level 1, its body level 2: 62 arrays in the body make 64 levels.
  ws->send_text_raw(deep_send_json(bob.user, "at64", 62));
  ws->expect("send_ack");
  auto msg = receiver->expect("msg");
  CHECK(msg["body"]["a"].dump() == std::string(62, '[') + std::string(62, ']'));
  ws->send_text_raw(deep_send_json(bob.user, "at65", 63));
  expect_bad_request(*ws);

  mp->send_bytes_raw(deep_send_msgpack(bob.user, "mp64", 62));
  mp->expect("send_ack");
  receiver->expect("msg");
  mp->send_bytes_raw(deep_send_msgpack(bob.user, "mp65", 63));
  expect_bad_request(*mp);
}

TEST_CASE("--max-nesting sets the limit, and HTTP JSON bodies obey it too") {
  imtest::TempDir dir;
  auto args = kArgs;
  args.insert(args.end(), {"--max-nesting", "8"});
  imtest::ServerProcess server(dir.path(), args);
  auto alice = imclient::register_and_login(server.endpoint, imclient::unique_username("a"), "password123");
  auto bob = imclient::register_and_login(server.endpoint, imclient::unique_username("b"), "password123");
  auto ws = imclient::connect_authed(server.endpoint, alice.token, "ws");
  ws->send_text_raw(deep_send_json(bob.user, "at8", 6));
  ws->expect("send_ack");
  ws->send_text_raw(deep_send_json(bob.user, "at9", 7));
  expect_bad_request(*ws);

  // A login body at the limit is read (and the password is wrong); one level more is a 400.
  auto login = [&](size_t arrays) {
    std::string body = R"({"username":")" + alice.username + R"(","password":"wrong-password","pad":)" +
                       std::string(arrays, '[') + std::string(arrays, ']') + "}";
    return imclient::http(server.endpoint, "POST", "/api/login", body);
  };
  CHECK(login(7).status == 401);
  auto deeper = login(8);
  CHECK(deeper.status == 400);
  CHECK(deeper.json()["error"]["code"] == "bad_request");
  CHECK(login(30000).status == 400);  // 60 KB: under max_http_body_bytes (64 KiB)
  auto groups = imclient::http(server.endpoint, "POST", "/api/groups",
                               R"({"name":"g","members":)" + std::string(9, '[') + std::string(9, ']') + "}",
                               alice.token);
  CHECK(groups.status == 400);
  ws->send({{"type", "ping"}});
  ws->expect("pong");
}
