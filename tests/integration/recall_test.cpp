// PROTOCOL.md section 7 `recall`: by the sender within recall_window_ms, a `recalled` event to
// every participant, history shows it recalled; errors forbidden, recall_expired, not_found.

#include <doctest/doctest.h>

#include <thread>

#include "support/group_helpers.hpp"

using imtest::api;
using imtest::group_message;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json recall_frame(const std::string& conv, uint64_t seq, const std::string& rid = "r") {
  return {{"type", "recall"}, {"conv", conv}, {"seq", seq}, {"rid", rid}};
}

json message_at(const imclient::Endpoint& endpoint, const imclient::Account& who, const std::string& conv, uint64_t seq) {
  auto r = api(endpoint, "GET", "/api/conversations/" + conv + "/messages?before=" + std::to_string(seq + 1) + "&limit=1", who);
  return r.body["messages"].empty() ? json() : r.body["messages"][0];
}

}  // namespace

TEST_CASE("1:1 recall: both sides get `recalled`, history shows recalled with an empty body") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto conv = imclient::conv_id_user(alice.account.user, bob.account.user);
  alice.conn->send(imclient::text_message(bob.account.user, "oops"));
  auto ack = alice.reader->next("send_ack");
  bob.conn->send(imclient::text_message(alice.account.user, "fine"));
  bob.reader->next("send_ack");

  // Not the sender: forbidden. Not a participant: not_member. No such message: not_found.
  bob.conn->send(recall_frame(conv, 1, "b1"));
  auto refused = bob.reader->next("error");
  CHECK(refused["code"] == "forbidden");
  CHECK(refused["rid"] == "b1");
  carol.conn->send(recall_frame(conv, 1));
  CHECK(carol.reader->next("error")["code"] == "not_member");
  alice.conn->send(recall_frame(conv, 99));
  CHECK(alice.reader->next("error")["code"] == "not_found");
  CHECK(message_at(server.endpoint, bob.account, conv, 1)["body"] == json{{"text", "oops"}});

  alice.conn->send(recall_frame(conv, 1));
  for (auto* m : {&alice, &bob}) {
    auto event = m->reader->next("recalled");
    CHECK(event["conv"] == conv);
    CHECK(event["seq"] == 1);
    CHECK(event["by"] == alice.account.user);
  }
  auto recalled = message_at(server.endpoint, bob.account, conv, 1);
  CHECK(recalled == json{{"conv", conv}, {"seq", 1}, {"from", alice.account.user}, {"body", json::object()},
                         {"ts", ack["ts"]}, {"recalled", true}});
  CHECK_FALSE(message_at(server.endpoint, bob.account, conv, 2).contains("recalled"));
  // Recalling again changes nothing and tells nobody.
  alice.conn->send(recall_frame(conv, 1));
  alice.conn->send({{"type", "ping"}});
  alice.reader->next("pong");
  for (const auto& f : bob.reader->drain(200ms)) CHECK(f["type"] != "recalled");
}

TEST_CASE("recall after the window: recall_expired, and the message stays") {
  imtest::TestServer server([](im::ServerOptions& o) { o.recall_window_ms = 30; });
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob.account.user})["group"].get<uint64_t>();
  auto direct = imclient::conv_id_user(alice.account.user, bob.account.user);
  alice.conn->send(imclient::text_message(bob.account.user, "slow"));
  auto direct_ack = alice.reader->next("send_ack");
  alice.conn->send(group_message(gid, "slow too"));
  auto group_ack = alice.reader->next("send_ack");
  // The window is about time itself: let it pass.
  std::this_thread::sleep_for(60ms);
  alice.conn->send(recall_frame(direct, direct_ack["seq"]));
  CHECK(alice.reader->next("error")["code"] == "recall_expired");
  alice.conn->send(recall_frame(imtest::group_conv(gid), group_ack["seq"]));
  CHECK(alice.reader->next("error")["code"] == "recall_expired");
  CHECK(message_at(server.endpoint, bob.account, direct, 1)["body"] == json{{"text", "slow"}});
  CHECK_FALSE(message_at(server.endpoint, bob.account, imtest::group_conv(gid), 1).contains("recalled"));
}

TEST_CASE("group recall: every member gets `recalled`; other members may not; history shows it") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto eve = imtest::connect_member(server.endpoint, server.account("eve"));
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob.account.user, carol.account.user})["group"]
                 .get<uint64_t>();
  auto conv = imtest::group_conv(gid);
  bob.conn->send(group_message(gid, "regret"));
  auto ack = bob.reader->next("send_ack");
  carol.reader->next("msg");

  alice.conn->send(recall_frame(conv, ack["seq"], "owner-try"));
  auto refused = alice.reader->next("error");
  CHECK(refused["code"] == "forbidden");  // even the owner: only the sender recalls
  CHECK(refused["rid"] == "owner-try");
  eve.conn->send(recall_frame(conv, ack["seq"]));
  CHECK(eve.reader->next("error")["code"] == "not_member");
  bob.conn->send(recall_frame(conv, 42));
  CHECK(bob.reader->next("error")["code"] == "not_found");

  bob.conn->send(recall_frame(conv, ack["seq"]));
  for (auto* m : {&alice, &bob, &carol}) {
    auto event = m->reader->next("recalled");
    CHECK(event["conv"] == conv);
    CHECK(event["seq"] == ack["seq"]);
    CHECK(event["by"] == bob.account.user);
  }
  auto shown = message_at(server.endpoint, carol.account, conv, 1);
  CHECK(shown["recalled"] == true);
  CHECK(shown["body"] == json::object());
  CHECK(shown["read_count"] == 0);
  // A member offline during the recall gets it on reconnect, after the message itself.
  carol.conn.reset();
  bob.conn->send(group_message(gid, "second"));
  auto second = bob.reader->next("send_ack");
  bob.conn->send(recall_frame(conv, second["seq"]));
  bob.reader->next_matching([&](const json& f) { return f["type"] == "recalled" && f["seq"] == second["seq"]; });
  auto again = imclient::connect_authed(server.endpoint, carol.account.token, "dev");
  imtest::Reader reader(*again);
  CHECK(reader.next("msg")["seq"] == second["seq"]);
  CHECK(reader.next("recalled")["seq"] == second["seq"]);
}

TEST_CASE("a message recalled before its recipient ever connected reads back without its body") {
  // Bob has never connected: no actor holds his events in memory, so the first connection reads
  // them back from the store, where the inbox keeps a reference to the (now recalled) message.
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob_account = server.account("bob");
  auto conv = imclient::conv_id_user(alice.account.user, bob_account.user);
  alice.conn->send(imclient::text_message(bob_account.user, "secret"));
  auto ack = alice.reader->next("send_ack");
  alice.conn->send(imclient::text_message(bob_account.user, "kept"));
  alice.reader->next("send_ack");
  alice.conn->send(recall_frame(conv, ack["seq"]));
  alice.reader->next_matching([&](const json& f) { return f["type"] == "recalled"; });

  // A new device starts at the head; `since: 0` asks for the whole inbox.
  auto bob_conn = imclient::connect_authed(server.endpoint, bob_account.token, "dev", nullptr,
                                           imclient::Transport::websocket, imclient::Encoding::json, 0);
  imtest::Reader bob(*bob_conn);
  auto recalled_msg = bob.next("msg");
  CHECK(recalled_msg["seq"] == ack["seq"]);
  CHECK(recalled_msg["body"] == json::object());
  CHECK(recalled_msg["recalled"] == true);
  CHECK(recalled_msg["ts"] == ack["ts"]);
  CHECK(recalled_msg["from"] == alice.account.user);
  auto kept = bob.next("msg");
  CHECK(kept["body"] == json{{"text", "kept"}});
  CHECK_FALSE(kept.contains("recalled"));
  auto event = bob.next("recalled");
  CHECK(event["seq"] == ack["seq"]);
  CHECK(event["by"] == alice.account.user);
}
