// PROTOCOL.md section 1: a WebSocket client that speaks MessagePack (binary frames) is answered in
// MessagePack, and talks to JSON clients as usual. End to end: a msgpack client and a JSON client
// send each other messages; each sees send_ack and msg in its own encoding, which the admin API
// confirms from the server's side.

#include <doctest/doctest.h>

#include "integration/ops_support.hpp"

using imclient::Encoding;
using imclient::Transport;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string encoding_of(const imclient::Endpoint& e, uint64_t user, const std::string& device) {
  auto answer = opstest::admin_json(e, "/admin/connections");  // kept alive for the loop
  for (const auto& c : answer["connections"])
    if (c["user"] == user && c["device"] == device) return c["encoding"].get<std::string>();
  return "";
}

}  // namespace

TEST_CASE("a MessagePack client and a JSON client exchange messages, each in its own encoding") {
  imtest::TestServer server(opstest::with_admin());
  auto packer = server.account("packer");
  auto texter = server.account("texter");
  json packer_ok, texter_ok;
  auto mp = imclient::connect_authed(server.endpoint, packer.token, "mp", &packer_ok, Transport::websocket,
                                     Encoding::msgpack);
  auto js = imclient::connect_authed(server.endpoint, texter.token, "js", &texter_ok, Transport::websocket,
                                     Encoding::json);
  CHECK(packer_ok["user"] == packer.user);
  CHECK(encoding_of(server.endpoint, packer.user, "mp") == "msgpack");
  CHECK(encoding_of(server.endpoint, texter.user, "js") == "json");

  // MessagePack -> JSON. The body round-trips through both encodings unchanged.
  json body = {{"text", "héllo ✓"}, {"n", 42}, {"neg", -7}, {"f", 1.5}, {"list", {1, "two", nullptr, true}}};
  auto cid = imclient::fresh_cid();
  mp->send({{"type", "send"}, {"cid", cid}, {"to", {{"user", texter.user}}}, {"body", body}, {"rid", "r1"}});
  auto ack = mp->expect("send_ack");
  CHECK(ack["cid"] == cid);
  CHECK(ack["rid"] == "r1");
  CHECK(ack["conv"] == imclient::conv_id_user(packer.user, texter.user));
  CHECK(ack["seq"] == 1);
  auto echo = mp->expect("msg");  // the sender's own inbox copy, with its cid
  CHECK(echo["cid"] == cid);
  CHECK(echo["body"] == body);
  auto got = js->expect("msg");
  CHECK(got["from"] == packer.user);
  CHECK(got["body"] == body);
  CHECK(got["seq"] == 1);
  CHECK(got["ts"] == ack["ts"]);
  CHECK_FALSE(got.contains("cid"));
  js->send({{"type", "ack"}, {"useq", got["useq"]}});
  mp->send({{"type", "ack"}, {"useq", echo["useq"]}});

  // JSON -> MessagePack.
  auto reply = imclient::text_message(packer.user, "and back");
  js->send(reply);
  auto ack2 = js->expect("send_ack");
  CHECK(ack2["seq"] == 2);
  auto got2 = mp->expect("msg");
  CHECK(got2["body"]["text"] == "and back");
  CHECK(got2["from"] == texter.user);
  CHECK(got2["ts"] == ack2["ts"]);

  // Errors and pongs come back in MessagePack too.
  mp->send({{"type", "ping"}, {"rid", "p"}});
  CHECK(mp->expect("pong")["rid"] == "p");
  mp->send({{"type", "no-such-type"}});
  CHECK(mp->expect("error")["code"] == "unknown_type");
  // The encoding is fixed by the first frame: still msgpack on the server's side.
  CHECK(encoding_of(server.endpoint, packer.user, "mp") == "msgpack");
}

TEST_CASE("a MessagePack client that reconnects gets its missed messages in MessagePack") {
  imtest::TestServer server(opstest::with_admin());
  auto packer = server.account("packer");
  auto texter = server.account("texter");
  auto js = imclient::connect_authed(server.endpoint, texter.token, "js");
  json ok;
  {
    auto mp = imclient::connect_authed(server.endpoint, packer.token, "mp", &ok, Transport::websocket,
                                       Encoding::msgpack);
    mp->close();
  }
  for (int i = 0; i < 3; ++i) {
    js->send(imclient::text_message(packer.user, "missed " + std::to_string(i)));
    js->expect("send_ack");
  }
  auto mp = imclient::connect_authed(server.endpoint, packer.token, "mp", nullptr, Transport::websocket,
                                     Encoding::msgpack);
  for (int i = 0; i < 3; ++i) CHECK(mp->expect("msg")["body"]["text"] == "missed " + std::to_string(i));
  CHECK(mp->encoding() == Encoding::msgpack);
}
