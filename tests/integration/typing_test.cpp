// PROTOCOL.md section 7: typing indicators. Forwarded to the recipients' online devices, never
// stored, at most one per sender and conversation per second (typing_interval_ms).

#include <doctest/doctest.h>

#include "store/keys.hpp"
#include "store/store.hpp"
#include "support/social_helpers.hpp"
#include "support/test_server.hpp"

using imclient::http;
using imclient::text_message;
using imtest::count_type;
using imtest::frames_before_marker;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json typing_to_user(uint64_t user) { return {{"type", "typing"}, {"to", {{"user", user}}}}; }
json typing_to_group(uint64_t group) { return {{"type", "typing"}, {"to", {{"group", group}}}}; }

json typing_frame(const std::string& conv, uint64_t from) {
  return {{"type", "typing"}, {"conv", conv}, {"from", from}};
}

std::string block_path(const imclient::Account& who) { return "/api/blocks/" + std::to_string(who.user); }

// Writes a group record the way the groups code stores it, with the server stopped, then starts
// the server again. (Typing reads keys::group(gid) directly.)
void seed_group(imtest::TestServer& server, uint64_t group, uint64_t owner, const std::vector<uint64_t>& members) {
  server.stop();
  {
    auto store = server.open_store();
    json record{{"name", "team"}, {"owner", owner}, {"members", members}};
    REQUIRE(store->commit_and_wait([&](im::Txn& txn) { txn.put(im::keys::group(group), record.dump()); }));
    store->flush();
  }
  server.restart();
}

}  // namespace

TEST_CASE("typing: to the recipient's online devices only, not the sender's, never stored") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a1 = imclient::connect_authed(server.endpoint, alice.token, "a1");
  auto a2 = imclient::connect_authed(server.endpoint, alice.token, "a2");
  auto b1 = imclient::connect_authed(server.endpoint, bob.token, "b1");
  auto b2 = imclient::connect_authed(server.endpoint, bob.token, "b2", nullptr, imclient::Transport::raw_tcp);

  a1->send(typing_to_user(bob.user));
  auto expected = typing_frame(imclient::conv_id_user(alice.user, bob.user), alice.user);
  CHECK(b1->expect("typing") == expected);
  CHECK(b2->expect("typing") == expected);
  // Not to alice's other device (bob's marker reaches a2 after anything alice's actor sent it).
  CHECK(count_type(frames_before_marker(*b1, *a2, alice.user), "typing") == 0);
  // A device connecting afterwards never gets it: it was not stored.
  auto b3 = imclient::connect_authed(server.endpoint, bob.token, "b3");
  CHECK(count_type(frames_before_marker(*a1, *b3, bob.user), "typing") == 0);
  // Nor does a device that was offline and replays its inbox from the start.
  b2->close();
  auto b2_again = imclient::connect_authed(server.endpoint, bob.token, "b2", nullptr, imclient::Transport::websocket,
                                           imclient::Encoding::json, 0);
  auto replayed = b2_again->expect("msg");  // the markers, from useq 1
  CHECK(replayed["useq"] == 1);
  CHECK(count_type(b2_again->skipped(), "typing") == 0);
  // Over MessagePack too.
  auto b4 = imclient::connect_authed(server.endpoint, bob.token, "b4", nullptr, imclient::Transport::websocket,
                                     imclient::Encoding::msgpack);
  auto carol = server.account("carol");
  auto c = imclient::connect_authed(server.endpoint, carol.token, "c");
  c->send(typing_to_user(bob.user));
  CHECK(b4->expect("typing") == typing_frame(imclient::conv_id_user(bob.user, carol.user), carol.user));
}

TEST_CASE("typing: at most one per sender and conversation per interval; conversations are separate") {
  CHECK(im::ServerOptions{}.typing_interval_ms == 1000);  // the protocol's "one per second"
  // A long interval, so that no second typing can legitimately pass during the test.
  imtest::TestServer server([](im::ServerOptions& o) { o.typing_interval_ms = 60000; });
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol");
  auto a1 = imclient::connect_authed(server.endpoint, alice.token, "a1");
  auto a2 = imclient::connect_authed(server.endpoint, alice.token, "a2");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  auto c = imclient::connect_authed(server.endpoint, carol.token, "c");

  for (int i = 0; i < 5; ++i) a1->send(typing_to_user(bob.user));
  a1->send(typing_to_user(carol.user));
  CHECK(b->expect("typing")["from"] == alice.user);
  CHECK(c->expect("typing")["from"] == alice.user);  // another conversation: its own allowance
  CHECK(count_type(frames_before_marker(*a1, *b, bob.user), "typing") == 0);
  // The limit is per sender, not per device.
  a2->send(typing_to_user(bob.user));
  CHECK(count_type(frames_before_marker(*a2, *b, bob.user), "typing") == 0);
  // ...and per sender: carol typing to bob is not limited by alice's.
  c->send(typing_to_user(bob.user));
  CHECK(b->expect("typing")["from"] == carol.user);
}

TEST_CASE("typing: forwarded again once the interval has passed") {
  constexpr int64_t kInterval = 300;
  imtest::TestServer server([](im::ServerOptions& o) { o.typing_interval_ms = kInterval; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  auto first_sent = std::chrono::steady_clock::now();
  a->send(typing_to_user(bob.user));
  b->expect("typing");
  // Keep typing; the next one to get through must be at least an interval after the first.
  std::optional<json> second;
  auto deadline = first_sent + 5s;
  while (!second && std::chrono::steady_clock::now() < deadline) {
    a->send(typing_to_user(bob.user));
    if (auto f = b->next(20ms); f && (*f)["type"] == "typing") second = *f;
  }
  REQUIRE(second);
  CHECK(std::chrono::steady_clock::now() - first_sent >= std::chrono::milliseconds(kInterval));
}

TEST_CASE("typing: errors for unknown targets, yourself and non-members") {
  imtest::TestServer server;
  auto alice = server.account("alice"), dave = server.account("dave");
  seed_group(server, 77, alice.user, {alice.user});
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto d = imclient::connect_authed(server.endpoint, dave.token, "d");

  auto with_rid = [](json frame, const std::string& rid) {
    frame["rid"] = rid;
    return frame;
  };
  a->send(with_rid(typing_to_user(999999), "t1"));
  auto e1 = a->expect("error");
  CHECK(e1["code"] == "no_such_user");
  CHECK(e1["rid"] == "t1");
  a->send(with_rid(typing_to_group(78), "t2"));
  CHECK(a->expect("error")["code"] == "no_such_group");
  a->send(typing_to_user(alice.user));
  CHECK(a->expect("error")["code"] == "bad_request");
  d->send(with_rid(typing_to_group(77), "t3"));
  auto e3 = d->expect("error");
  CHECK(e3["code"] == "not_member");
  CHECK(e3["rid"] == "t3");
  a->send({{"type", "typing"}, {"to", "bob"}});
  CHECK(a->expect("error")["code"] == "bad_request");
  // The connection stays usable.
  a->send({{"type", "ping"}});
  a->expect("pong");
}

TEST_CASE("typing: a block hides the blocked user's typing") {
  imtest::TestServer server([](im::ServerOptions& o) { o.typing_interval_ms = 0; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  REQUIRE(http(server.endpoint, "PUT", block_path(alice), "", bob.token).status == 204);
  a->send(typing_to_user(bob.user));
  // Handled in order: once this send is refused, the typing before it was handled too.
  a->send(text_message(bob.user, "hello?"));
  CHECK(a->expect("error")["code"] == "blocked");
  REQUIRE(http(server.endpoint, "DELETE", block_path(alice), "", bob.token).status == 204);
  CHECK(count_type(frames_before_marker(*a, *b, bob.user), "typing") == 0);
  // Unblocked, typing flows again.
  a->send(typing_to_user(bob.user));
  CHECK(b->expect("typing")["from"] == alice.user);
}

TEST_CASE("typing: a group's other online members get it with conv g:G") {
  imtest::TestServer server([](im::ServerOptions& o) { o.typing_interval_ms = 0; });
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol"),
       dave = server.account("dave");
  seed_group(server, 5, alice.user, {alice.user, bob.user, carol.user});
  auto a1 = imclient::connect_authed(server.endpoint, alice.token, "a1");
  auto a2 = imclient::connect_authed(server.endpoint, alice.token, "a2");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  auto c = imclient::connect_authed(server.endpoint, carol.token, "c");
  auto d = imclient::connect_authed(server.endpoint, dave.token, "d");

  a1->send(typing_to_group(5));
  auto expected = typing_frame("g:5", alice.user);
  CHECK(b->expect("typing") == expected);
  CHECK(c->expect("typing") == expected);
  CHECK(count_type(frames_before_marker(*a1, *d, dave.user), "typing") == 0);   // not a member
  CHECK(count_type(frames_before_marker(*b, *a2, alice.user), "typing") == 0);  // not the sender

  // Carol blocks alice: bob still gets alice's typing, carol does not.
  REQUIRE(http(server.endpoint, "PUT", block_path(alice), "", carol.token).status == 204);
  a1->send(typing_to_group(5));
  CHECK(b->expect("typing") == expected);
  REQUIRE(http(server.endpoint, "DELETE", block_path(alice), "", carol.token).status == 204);
  CHECK(count_type(frames_before_marker(*a1, *c, carol.user), "typing") == 0);
}
