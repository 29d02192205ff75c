// PROTOCOL.md section 5: sending, acknowledgement, deduplication by cid, reordering by cseq, errors.

#include <doctest/doctest.h>

#include <thread>

#include "support/inbox_reader.hpp"
#include "support/test_server.hpp"

using imclient::text_message;
using imtest::InboxReader;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
json merged(json a, const json& b) {
  a.update(b);
  return a;
}
}  // namespace

TEST_CASE("send_ack carries cid, conv, seq and ts; the recipient's msg carries the same seq and ts") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  a->send(merged(text_message(bob.user, "hello", "cid-1"), json{{"rid", "r1"}}));
  auto ack = a->expect("send_ack");
  CHECK(ack["cid"] == "cid-1");
  CHECK(ack["rid"] == "r1");
  CHECK(ack["conv"] == imclient::conv_id_user(alice.user, bob.user));
  CHECK(ack["seq"] == 1);
  auto msg = b->expect("msg");
  CHECK(msg["useq"] == 1);
  CHECK(msg["conv"] == ack["conv"]);
  CHECK(msg["seq"] == 1);
  CHECK(msg["from"] == alice.user);
  CHECK(msg["body"] == json{{"text", "hello"}});
  CHECK(msg["ts"] == ack["ts"]);
  CHECK_FALSE(msg.contains("cid"));  // cid only in the sender's own inbox
  // The sender's own inbox has it too, with the cid, for its other devices.
  auto own = a->expect("msg");
  CHECK(own["cid"] == "cid-1");
  CHECK(own["seq"] == 1);
  CHECK(own["ts"] == ack["ts"]);
  // Both directions share one sequence.
  b->send(text_message(alice.user, "hi back"));
  CHECK(b->expect("send_ack")["seq"] == 2);
}

TEST_CASE("the same cid again gets the identical send_ack and no second message, across reconnects and restarts") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto first = (a->send(text_message(bob.user, "once", "dup-1")), a->expect("send_ack"));
  a->send(text_message(bob.user, "once again?", "dup-1"));
  auto second = a->expect("send_ack");
  CHECK(second == first);
  a->close();
  a = imclient::connect_authed(server.endpoint, alice.token, "a2");
  a->send(text_message(bob.user, "after reconnect", "dup-1"));
  CHECK(a->expect("send_ack") == first);
  a->close();
  server.restart();
  a = imclient::connect_authed(server.endpoint, alice.token, "a3");
  a->send(text_message(bob.user, "after restart", "dup-1"));
  CHECK(a->expect("send_ack") == first);
  // Bob's inbox holds exactly one message.
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b", nullptr, imclient::Transport::websocket,
                                    imclient::Encoding::json, 0);
  InboxReader inbox(*b);
  CHECK(inbox.collect(1, 2s));
  CHECK_FALSE(inbox.collect(1, 300ms));
  CHECK(inbox.events()[0]["body"]["text"] == "once");
}

TEST_CASE("dedup entries expire after dedup_retention_s") {
  imtest::TestServer server([](im::ServerOptions& o) { o.dedup_retention_s = 1; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  a->send(text_message(bob.user, "x", "exp-1"));
  CHECK(a->expect("send_ack")["seq"] == 1);
  server.restart();  // forget the in-memory cache: the store record decides
  a = imclient::connect_authed(server.endpoint, alice.token, "a");
  bool expired = false;
  for (int i = 0; i < 40 && !expired; ++i) {
    a->send(text_message(bob.user, "x", "exp-1"));
    auto ack = a->expect("send_ack");
    expired = ack["seq"] == 2;
    if (!expired) std::this_thread::sleep_for(100ms);  // waiting for wall-clock expiry
  }
  CHECK(expired);
}

TEST_CASE("send errors: bad_request, too_large, no_such_user, rate_limited, each with the cid") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.max_body_bytes = 100;
    o.rate_sends_per_s = 5;
  });
  auto alice = server.account("alice");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  a->send({{"type", "send"}, {"cid", "e1"}, {"to", {{"user", 1}}}, {"body", "not an object"}});
  auto e1 = a->expect("error");
  CHECK(e1["code"] == "bad_request");
  CHECK(e1["cid"] == "e1");
  a->send(text_message(alice.user + 1000, std::string(200, 'x'), "e2"));
  auto e2 = a->expect("error");
  CHECK(e2["code"] == "too_large");
  CHECK(e2["cid"] == "e2");
  a->send(text_message(999999, "who?", "e3"));
  auto e3 = a->expect("error");
  CHECK(e3["code"] == "no_such_user");
  CHECK(e3["cid"] == "e3");
  a->send(text_message(alice.user, "me", "e4"));
  CHECK(a->expect("error")["code"] == "bad_request");
  // 5/s with bursts of 10: of 30 quick sends, some are refused.
  auto bob = server.account("bob");
  for (int i = 0; i < 30; ++i) a->send(text_message(bob.user, "r", "rate-" + std::to_string(i)));
  int acks = 0, limited = 0;
  while (auto f = a->next(500ms)) {
    if ((*f)["type"] == "send_ack") ++acks;
    if ((*f)["type"] == "error" && (*f)["code"] == "rate_limited") {
      ++limited;
      CHECK((*f)["cid"].get<std::string>().rfind("rate-", 0) == 0);
    }
  }
  CHECK(acks >= 5);
  CHECK(limited > 0);
  CHECK(acks + limited == 30);
}

TEST_CASE("cseq: early sends are held until the gap fills, then applied in order") {
  imtest::TestServer server([](im::ServerOptions& o) { o.reorder_ms = 5000; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  for (int k : {3, 2}) a->send(merged(text_message(bob.user, "m" + std::to_string(k), "cs" + std::to_string(k)), json{{"cseq", k}}));
  CHECK_FALSE(a->next(200ms));  // held: nothing applied before cseq 1
  a->send(merged(text_message(bob.user, "m1", "cs1"), json{{"cseq", 1}}));
  std::vector<std::string> acked;
  for (int i = 0; i < 3; ++i) acked.push_back(a->expect("send_ack")["cid"]);
  CHECK(acked == std::vector<std::string>{"cs1", "cs2", "cs3"});
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b", nullptr, imclient::Transport::websocket,
                                    imclient::Encoding::json, 0);
  InboxReader inbox(*b);
  REQUIRE(inbox.collect(3, 2s));
  for (int i = 0; i < 3; ++i) CHECK(inbox.events()[i]["body"]["text"] == "m" + std::to_string(i + 1));
  // next_cseq is kept across reconnects.
  a->close();
  json ok;
  auto again = imclient::connect_authed(server.endpoint, alice.token, "a", &ok);
  CHECK(ok["next_cseq"] == 4);
}

TEST_CASE("cseq: when reorder_ms runs out the held sends are applied and seq_gap names the missing") {
  imtest::TestServer server([](im::ServerOptions& o) { o.reorder_ms = 200; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  a->send(merged(text_message(bob.user, "one", "g1"), json{{"cseq", 1}}));
  CHECK(a->expect("send_ack")["cid"] == "g1");
  for (int k : {5, 3}) a->send(merged(text_message(bob.user, "x", "g" + std::to_string(k)), json{{"cseq", k}}));
  auto gap = a->expect("error", 2s);
  CHECK(gap["code"] == "seq_gap");
  CHECK(gap["missing"] == json::array({2, 4}));
  CHECK(a->expect("send_ack")["cid"] == "g3");
  CHECK(a->expect("send_ack")["cid"] == "g5");
  a->close();
  json ok;
  imclient::connect_authed(server.endpoint, alice.token, "a", &ok);
  CHECK(ok["next_cseq"] == 6);
}
