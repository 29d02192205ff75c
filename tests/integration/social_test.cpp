// PROTOCOL.md sections 3, 6 and 7: friends (with `friend` inbox events), presence and blocks,
// over real sockets and a real store.

#include <doctest/doctest.h>

#include "support/inbox_reader.hpp"
#include "support/social_helpers.hpp"
#include "support/test_server.hpp"

using imclient::http;
using imclient::text_message;
using imtest::befriend;
using imtest::count_type;
using imtest::frames_before_marker;
using imtest::friend_call;
using imtest::InboxReader;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json friends_of(const imtest::TestServer& server, const imclient::Account& who) {
  auto res = http(server.endpoint, "GET", "/api/friends", "", who.token);
  REQUIRE(res.status == 200);
  return res.json();
}

json lists(std::vector<uint64_t> friends, std::vector<uint64_t> incoming, std::vector<uint64_t> outgoing) {
  return json{{"friends", friends}, {"incoming", incoming}, {"outgoing", outgoing}};
}

json friend_event(uint64_t user, const std::string& state, uint64_t by) {
  return json{{"type", "friend"}, {"user", user}, {"state", state}, {"by", by}};
}

// The event without its useq, to compare with friend_event().
json without_useq(json event) {
  event.erase("useq");
  return event;
}

}  // namespace

TEST_CASE("friends: request, acceptance, removal; friend events on both sides' sockets") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  InboxReader ra(*a), rb(*b);

  // Alice asks: bob gets `requested`; alice's own devices see it too (by = alice).
  auto asked = friend_call(server.endpoint, "PUT", alice, bob.user);
  CHECK(asked.status == 200);
  CHECK(asked.json() == json{{"state", "requested"}});
  REQUIRE(rb.collect(1, 5s));
  CHECK(without_useq(rb.events().back()) == friend_event(alice.user, "requested", alice.user));
  REQUIRE(ra.collect(1, 5s));
  CHECK(without_useq(ra.events().back()) == friend_event(bob.user, "requested", alice.user));
  CHECK(friends_of(server, alice) == lists({}, {}, {bob.user}));
  CHECK(friends_of(server, bob) == lists({}, {alice.user}, {}));

  // Asking again changes nothing and sends nothing more.
  CHECK(friend_call(server.endpoint, "PUT", alice, bob.user).json() == json{{"state", "requested"}});

  // Bob accepts by asking back.
  auto accepted = friend_call(server.endpoint, "PUT", bob, alice.user);
  CHECK(accepted.status == 200);
  CHECK(accepted.json() == json{{"state", "friends"}});
  REQUIRE(ra.collect(1, 5s));
  CHECK(without_useq(ra.events().back()) == friend_event(bob.user, "friends", bob.user));
  REQUIRE(rb.collect(1, 5s));
  CHECK(without_useq(rb.events().back()) == friend_event(alice.user, "friends", bob.user));
  CHECK(friends_of(server, alice) == lists({bob.user}, {}, {}));
  CHECK(friends_of(server, bob) == lists({alice.user}, {}, {}));
  CHECK(friend_call(server.endpoint, "PUT", alice, bob.user).json() == json{{"state", "friends"}});

  // Alice removes: both sides lose it; bob gets `removed`.
  auto removed = friend_call(server.endpoint, "DELETE", alice, bob.user);
  CHECK(removed.status == 204);
  REQUIRE(rb.collect(1, 5s));
  CHECK(without_useq(rb.events().back()) == friend_event(alice.user, "removed", alice.user));
  REQUIRE(ra.collect(1, 5s));
  CHECK(without_useq(ra.events().back()) == friend_event(bob.user, "removed", alice.user));
  CHECK(friends_of(server, alice) == lists({}, {}, {}));
  CHECK(friends_of(server, bob) == lists({}, {}, {}));
  // Removing what is not there is a no-op.
  CHECK(friend_call(server.endpoint, "DELETE", alice, bob.user).status == 204);

  // A pending request can be withdrawn by the asker or declined by the asked, on both sides.
  friend_call(server.endpoint, "PUT", bob, alice.user);
  REQUIRE(ra.collect(1, 5s));
  CHECK(friend_call(server.endpoint, "DELETE", alice, bob.user).status == 204);  // declined
  REQUIRE(ra.collect(1, 5s));
  CHECK(without_useq(ra.events().back()) == friend_event(bob.user, "removed", alice.user));
  REQUIRE(rb.collect(2, 5s));  // bob's own `requested`, then `removed` by alice
  CHECK(without_useq(rb.events().back()) == friend_event(alice.user, "removed", alice.user));
  CHECK(friends_of(server, bob) == lists({}, {}, {}));

  // Every event is in the inbox, useq contiguous, nothing extra.
  CHECK(ra.gaps().empty());
  CHECK(rb.gaps().empty());
  CHECK(ra.events().size() == 5);
  CHECK(rb.events().size() == 5);
}

TEST_CASE("friends: events wait in the inbox of an offline user") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  befriend(server.endpoint, alice, bob);
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b", nullptr, imclient::Transport::raw_tcp,
                                    imclient::Encoding::json, 0);
  InboxReader rb(*b);
  REQUIRE(rb.collect(2, 5s));
  CHECK(without_useq(rb.events()[0]) == friend_event(alice.user, "requested", alice.user));
  CHECK(without_useq(rb.events()[1]) == friend_event(alice.user, "friends", bob.user));
}

TEST_CASE("friends: lists ascending; unknown user 404, yourself 400, no token 401") {
  imtest::TestServer server;
  auto alice = server.account("alice");
  std::vector<imclient::Account> others;
  for (int i = 0; i < 5; ++i) others.push_back(server.account("other"));
  // Alice asks three of them, in descending id order; two others ask her; two of those she asked
  // accept.
  for (auto it = others.rbegin(); it != others.rend(); ++it) {
    if (it->user == others[1].user || it->user == others[3].user) continue;
    friend_call(server.endpoint, "PUT", alice, it->user);
  }
  friend_call(server.endpoint, "PUT", others[3], alice.user);
  friend_call(server.endpoint, "PUT", others[1], alice.user);
  friend_call(server.endpoint, "PUT", others[4], alice.user);  // accepts
  friend_call(server.endpoint, "PUT", others[0], alice.user);  // accepts
  CHECK(friends_of(server, alice) ==
        lists({others[0].user, others[4].user}, {others[1].user, others[3].user}, {others[2].user}));

  auto unknown = friend_call(server.endpoint, "PUT", alice, 999999);
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["error"]["code"] == "not_found");
  CHECK(http(server.endpoint, "PUT", "/api/friends/bob", "", alice.token).status == 404);
  auto self = friend_call(server.endpoint, "PUT", alice, alice.user);
  CHECK(self.status == 400);
  CHECK(self.json()["error"]["code"] == "invalid");
  CHECK(http(server.endpoint, "GET", "/api/friends").status == 401);
  CHECK(http(server.endpoint, "PUT", "/api/friends/" + std::to_string(others[0].user)).status == 401);
  CHECK(http(server.endpoint, "DELETE", "/api/friends/" + std::to_string(others[0].user), "", "nope").status == 401);
}

TEST_CASE("presence: to online friends on the first connect and the last disconnect only") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol"),
       dave = server.account("dave");
  befriend(server.endpoint, alice, bob);
  befriend(server.endpoint, alice, dave);  // dave stays offline for now
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  auto c = imclient::connect_authed(server.endpoint, carol.token, "c");  // not a friend

  auto a1 = imclient::connect_authed(server.endpoint, alice.token, "a1");
  auto online = b->expect("presence");
  CHECK(online == json{{"type", "presence"}, {"user", alice.user}, {"online", true}});
  CHECK(count_type(frames_before_marker(*a1, *c, carol.user), "presence") == 0);

  // A second device of alice: no presence.
  auto a2 = imclient::connect_authed(server.endpoint, alice.token, "a2");
  CHECK(count_type(frames_before_marker(*a1, *b, bob.user), "presence") == 0);

  // Not stored: dave, connecting now, does not hear that alice came online.
  auto d = imclient::connect_authed(server.endpoint, dave.token, "d");
  // Dave's own first connect is announced to alice, who is online.
  auto dave_online = a1->expect("presence");
  CHECK(dave_online == json{{"type", "presence"}, {"user", dave.user}, {"online", true}});
  CHECK(count_type(frames_before_marker(*a1, *d, dave.user), "presence") == 0);

  // The second device leaving says nothing; the last one leaving says offline, once.
  a2->close();
  a1->close();
  auto offline = b->expect("presence");
  CHECK(offline == json{{"type", "presence"}, {"user", alice.user}, {"online", false}});
  CHECK(d->expect("presence") == offline);
  b->skipped();  // what came before the offline
  a1 = imclient::connect_authed(server.endpoint, alice.token, "a1");
  // Everything Bob got after the offline, up to a marker from Alice: the online only, no second
  // `offline` before it and no second `online` after it.
  auto after_offline = frames_before_marker(*a1, *b, bob.user);
  CHECK(count_type(after_offline, "presence") == 1);
  for (const auto& f : after_offline)
    if (f["type"] == "presence") CHECK(f == online);
  CHECK(count_type(frames_before_marker(*a1, *c, carol.user), "presence") == 0);
}

TEST_CASE("presence: a friend alice blocked does not see her presence") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  befriend(server.endpoint, alice, bob);
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  REQUIRE(http(server.endpoint, "PUT", "/api/blocks/" + std::to_string(bob.user), "", alice.token).status == 204);
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  // Alice may still send to bob (bob did not block her): the marker passes, no presence before it.
  CHECK(count_type(frames_before_marker(*a, *b, bob.user), "presence") == 0);
}

TEST_CASE("blocks: list ascending, a blocked user's sends get `blocked`, unblocking restores") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b");
  auto block_path = [](const imclient::Account& who) { return "/api/blocks/" + std::to_string(who.user); };

  CHECK(http(server.endpoint, "GET", "/api/blocks", "", bob.token).json() == json{{"blocks", json::array()}});
  CHECK(http(server.endpoint, "PUT", block_path(carol), "", bob.token).status == 204);
  CHECK(http(server.endpoint, "PUT", block_path(alice), "", bob.token).status == 204);
  CHECK(http(server.endpoint, "PUT", block_path(alice), "", bob.token).status == 204);  // idempotent
  CHECK(http(server.endpoint, "GET", "/api/blocks", "", bob.token).json() ==
        json{{"blocks", {alice.user, carol.user}}});

  a->send(text_message(bob.user, "let me in", "blocked-1"));
  auto refused = a->expect("error");
  CHECK(refused["code"] == "blocked");
  CHECK(refused["cid"] == "blocked-1");
  // One-way: bob can still write to alice.
  b->send(text_message(alice.user, "I can talk"));
  CHECK(b->expect("send_ack")["seq"] == 1);
  // A blocked user cannot ask for friendship either.
  auto asked = friend_call(server.endpoint, "PUT", alice, bob.user);
  CHECK(asked.status == 403);
  CHECK(asked.json()["error"]["code"] == "blocked");

  CHECK(http(server.endpoint, "DELETE", block_path(alice), "", bob.token).status == 204);
  CHECK(http(server.endpoint, "GET", "/api/blocks", "", bob.token).json() == json{{"blocks", {carol.user}}});
  a->send(text_message(bob.user, "hello again", "blocked-2"));
  auto ack = a->expect("send_ack");
  CHECK(ack["cid"] == "blocked-2");
  CHECK(ack["seq"] == 2);
  auto msg = b->expect("msg");
  while (msg["from"] != alice.user) msg = b->expect("msg");  // bob's own copy of his message first
  CHECK(msg["body"]["text"] == "hello again");
  CHECK(friend_call(server.endpoint, "PUT", alice, bob.user).status == 200);

  CHECK(http(server.endpoint, "PUT", "/api/blocks/999999", "", bob.token).status == 404);
  CHECK(http(server.endpoint, "PUT", block_path(bob), "", bob.token).status == 400);
  CHECK(http(server.endpoint, "GET", "/api/blocks").status == 401);
  CHECK(http(server.endpoint, "PUT", block_path(alice)).status == 401);
}

TEST_CASE("friendships and blocks survive a restart") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol");
  befriend(server.endpoint, alice, bob);
  REQUIRE(http(server.endpoint, "PUT", "/api/blocks/" + std::to_string(carol.user), "", bob.token).status == 204);
  server.restart();
  CHECK(friends_of(server, alice) == lists({bob.user}, {}, {}));
  CHECK(friends_of(server, bob) == lists({alice.user}, {}, {}));
  CHECK(http(server.endpoint, "GET", "/api/blocks", "", bob.token).json() == json{{"blocks", {carol.user}}});
  auto c = imclient::connect_authed(server.endpoint, carol.token, "c");
  c->send(text_message(bob.user, "still blocked?"));
  CHECK(c->expect("error")["code"] == "blocked");
}
