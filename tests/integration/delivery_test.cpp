// PROTOCOL.md section 6: the inbox. Each reliability rule is its own test case.

#include <doctest/doctest.h>

#include <thread>

#include "support/inbox_reader.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using imclient::Connection;
using imclient::text_message;
using imtest::InboxReader;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Sends n messages from `from` to user `to` and waits for every send_ack.
void send_many(Connection& from, uint64_t to, int n, const std::string& prefix = "m") {
  for (int i = 0; i < n; ++i) from.send(text_message(to, prefix + std::to_string(i)));
  for (int i = 0; i < n; ++i) from.expect("send_ack", 10s);
}

std::unique_ptr<Connection> connect_since(imtest::TestServer& s, const std::string& token, const std::string& device,
                                          std::optional<uint64_t> since, json* ok = nullptr) {
  return imclient::connect_authed(s.endpoint, token, device, ok, imclient::Transport::websocket,
                                  imclient::Encoding::json, since);
}

}  // namespace

TEST_CASE("offline: 1,000 messages to an offline user arrive in order on connect, useq contiguous") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.rate_sends_per_s = 0;  // this test is about delivery, not rate limits
    o.rate_frames_per_s = 0;
  });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  // Bob's device exists (cursor 0) but is offline while alice sends.
  connect_since(server, bob.token, "phone", std::nullopt)->close();
  send_many(*a, bob.user, 1000);
  json ok;
  auto b = connect_since(server, bob.token, "phone", std::nullopt, &ok);
  CHECK(ok["useq"] == 1000);
  InboxReader inbox(*b);
  REQUIRE(inbox.collect(1000, 30s));
  CHECK(inbox.gaps().empty());
  CHECK(inbox.events().front()["useq"] == 1);
  for (int i = 0; i < 1000; ++i) {
    CHECK(inbox.events()[i]["seq"] == i + 1);
    CHECK(inbox.events()[i]["body"]["text"] == "m" + std::to_string(i));
  }
  CHECK(inbox.duplicates_dropped() == 0);
}

TEST_CASE("at most ack_window pushes are unacknowledged; a cumulative ack releases more") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.ack_window = 4;
    o.ack_timeout_ms = 60000;
  });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  connect_since(server, bob.token, "b", std::nullopt)->close();
  send_many(*a, bob.user, 10);
  auto b = connect_since(server, bob.token, "b", std::nullopt);
  InboxReader inbox(*b);
  REQUIRE(inbox.collect(4, 2s, false));
  CHECK_FALSE(inbox.collect(1, 300ms, false));  // the window is full
  b->send({{"type", "ack"}, {"useq", 2}});       // covers 1 and 2
  REQUIRE(inbox.collect(2, 2s, false));
  CHECK(inbox.events().back()["useq"] == 6);
  CHECK_FALSE(inbox.collect(1, 300ms, false));
  b->send({{"type", "ack"}, {"useq", 6}});
  REQUIRE(inbox.collect(4, 2s, false));
  CHECK(inbox.last_useq() == 10);
}

TEST_CASE("unacknowledged pushes are sent again after ack_timeout_ms, then 4008; nothing is lost") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.ack_timeout_ms = 150;
    o.max_retries = 2;
  });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = connect_since(server, bob.token, "b", 0);
  send_many(*a, bob.user, 3);
  // Never ack: the 3 events come 1 + max_retries times, then the connection closes with 4008.
  std::map<uint64_t, int> times;
  while (auto f = b->next(3s))
    if ((*f)["type"] == "msg") times[(*f)["useq"].get<uint64_t>()]++;
  CHECK(b->wait_closed(1s) == std::optional<int>(4008));
  CHECK(times.size() == 3);
  for (auto& [useq, n] : times) CHECK(n == 3);
  // The events stay in the inbox: the device gets them again on reconnect.
  auto again = connect_since(server, bob.token, "b", std::nullopt);
  InboxReader inbox(*again);
  REQUIRE(inbox.collect(3, 2s));
  CHECK(inbox.events().front()["useq"] == 1);
}

TEST_CASE("an ack resets the retry count: a slow but steady device is never cut") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.ack_timeout_ms = 300;  // the ack after each retransmission must arrive within it
    o.max_retries = 1;
    o.ack_window = 1;
  });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = connect_since(server, bob.token, "b", 0);
  send_many(*a, bob.user, 5);
  // Each event is acknowledged only after its one allowed retransmission: every event uses up the
  // retries, so without the reset the second event's first timeout would close with 4008.
  for (uint64_t useq = 1; useq <= 5; ++useq) {
    CAPTURE(useq);
    int copies = 0;
    while (copies < 2) {
      auto f = b->next(5s);
      REQUIRE(f);
      if ((*f)["type"] != "msg") continue;
      REQUIRE((*f)["useq"] == useq);  // window 1: nothing else comes before the ack
      ++copies;
    }
    b->send({{"type", "ack"}, {"useq", useq}});
  }
  b->send({{"type", "ping"}});
  b->expect("pong");
  CHECK_FALSE(b->closed());
}

TEST_CASE("the stored cursor: a device resumes after what it acknowledged; since overrides it") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto b = connect_since(server, bob.token, "b", 0);
  send_many(*a, bob.user, 5);
  InboxReader inbox(*b);
  REQUIRE(inbox.collect(3, 2s));  // acks 1..3
  // Acks are applied in order on the server; the pong after them proves they were processed.
  b->send({{"type", "ping"}});
  b->expect("pong");
  b->close();
  server.restart();  // the cursor is on disk
  json ok;
  auto b2 = connect_since(server, bob.token, "b", std::nullopt, &ok);
  InboxReader resumed(*b2);
  REQUIRE(resumed.collect(2, 2s));
  CHECK(resumed.events().front()["useq"] == 4);
  b2->close();
  auto b3 = connect_since(server, bob.token, "b", 1);
  InboxReader from_since(*b3, 1);
  REQUIRE(from_since.collect(4, 2s));
  CHECK(from_since.events().front()["useq"] == 2);
}

TEST_CASE("a device never seen before starts at the head; sync replays after N") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  send_many(*a, bob.user, 3);
  json ok;
  auto fresh = connect_since(server, bob.token, "new-device", std::nullopt, &ok);
  CHECK(ok["useq"] == 3);
  CHECK(ok["gap"] == false);
  CHECK_FALSE(fresh->next(300ms));  // nothing old is pushed
  a->send(text_message(bob.user, "live"));
  InboxReader inbox(*fresh, 3);
  REQUIRE(inbox.collect(1, 2s));
  CHECK(inbox.events()[0]["useq"] == 4);
  fresh->send({{"type", "sync"}, {"since", 1}});
  InboxReader replay(*fresh, 1);
  REQUIRE(replay.collect(3, 2s));
  CHECK(replay.events()[0]["useq"] == 2);
  CHECK(replay.events()[2]["useq"] == 4);
}

TEST_CASE("a cursor older than the retained inbox gets gap: true") {
  imtest::TestServer server([](im::ServerOptions& o) { o.inbox_max_events = 5; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  connect_since(server, bob.token, "b", std::nullopt)->close();
  send_many(*a, bob.user, 12);
  json ok;
  auto b = connect_since(server, bob.token, "b", std::nullopt, &ok);
  CHECK(ok["gap"] == true);
  CHECK(ok["useq"] == 12);
  InboxReader inbox(*b);
  REQUIRE(inbox.collect(5, 2s));
  CHECK(inbox.events().front()["useq"] == 8);
  b->close();
  json ok2;
  connect_since(server, bob.token, "b", std::nullopt, &ok2);
  CHECK(ok2["gap"] == false);
}

TEST_CASE("a connected device whose next events fell out of retention gets gap, then event N") {
  // The binary with a 5-event inbox: bob's device takes the 4 pushes of its ACK window and
  // acknowledges nothing while alice sends 20 more, so the events after its window are dropped
  // before their turn comes.
  imtest::TempDir dir;
  imtest::ServerProcess server(dir.path(), {"--password-hash-cost", "min", "--inbox-max-events", "5", "--ack-window",
                                            "4", "--ack-timeout-ms", "60000"});
  auto alice = imclient::register_and_login(server.endpoint, imclient::unique_username("alice"), "password123");
  auto bob = imclient::register_and_login(server.endpoint, imclient::unique_username("bob"), "password123");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "b", nullptr, imclient::Transport::websocket,
                                    imclient::Encoding::json, 0);
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  send_many(*a, bob.user, 20);
  InboxReader window(*b);
  REQUIRE(window.collect(4, 10s, false));
  CHECK(window.events().back()["useq"] == 4);
  CHECK_FALSE(b->next(200ms));  // the window is full: nothing more until an ACK
  // The inbox now holds 16..20: the device is told that 5..15 are gone, then gets 16.
  b->send({{"type", "ack"}, {"useq", 4}});
  auto gap = b->next(10s);
  REQUIRE(gap);
  CHECK(*gap == json({{"type", "gap"}, {"next", 16}}));
  InboxReader rest(*b, 15);
  REQUIRE(rest.collect(5, 10s));
  CHECK(rest.events().front()["useq"] == 16);
  CHECK(rest.events().back()["useq"] == 20);
  CHECK(rest.gaps().empty());
  CHECK(rest.others().empty());
  // Caught up: a new event follows without another gap.
  a->send(text_message(bob.user, "after"));
  a->expect("send_ack", 10s);
  auto next = b->next(10s);
  REQUIRE(next);
  CHECK((*next)["useq"] == 21);
}

TEST_CASE("multi-device: three devices, one offline for a while, end with the identical event sequence") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol");
  auto d1 = connect_since(server, bob.token, "d1", 0);
  auto d2 = connect_since(server, bob.token, "d2", 0);
  auto d3 = connect_since(server, bob.token, "d3", 0);
  InboxReader r1(*d1), r2(*d2);
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  auto c = imclient::connect_authed(server.endpoint, carol.token, "c");
  send_many(*a, bob.user, 10, "a");
  d3->close();  // offline for a while
  send_many(*c, bob.user, 10, "c");
  // Bob's own sends land in every device's inbox (sent from a fourth device, whose frames we skip).
  auto d4 = connect_since(server, bob.token, "d4", std::nullopt);
  d4->send(text_message(alice.user, "from d4"));
  d4->expect("send_ack");
  send_many(*a, bob.user, 10, "a2");
  REQUIRE(r1.collect(31, 10s));
  REQUIRE(r2.collect(31, 10s));
  auto d3b = connect_since(server, bob.token, "d3", std::nullopt);
  InboxReader r3(*d3b);
  // d3 acked nothing before going away, so it resumes from its stored cursor (0).
  REQUIRE(r3.collect(31, 10s));
  CHECK(r1.events() == r2.events());
  CHECK(r1.events() == r3.events());
  CHECK(r1.gaps().empty());
  auto own = std::find_if(r1.events().begin(), r1.events().end(), [](const json& e) { return e.contains("cid"); });
  REQUIRE(own != r1.events().end());
  CHECK((*own)["body"]["text"] == "from d4");
}

TEST_CASE("pushes never carry two different events under one useq") {
  imtest::TestServer server([](im::ServerOptions& o) { o.ack_timeout_ms = 100; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto b = connect_since(server, bob.token, "b", 0);
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  send_many(*a, bob.user, 20);
  std::map<uint64_t, json> seen;
  int acked = 0, retransmissions = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (acked < 20 && std::chrono::steady_clock::now() < deadline) {
    auto f = b->next(1s);
    if (!f || (*f)["type"] != "msg") continue;
    auto useq = (*f)["useq"].get<uint64_t>();
    auto [it, fresh] = seen.emplace(useq, *f);
    if (!fresh) {
      ++retransmissions;
      CHECK(it->second == *f);  // a retransmission is the same event
    }
    // Nothing is acknowledged before the first retransmission; then every other push, late.
    if (retransmissions > 0 && useq % 2 == 0 && static_cast<int>(useq) > acked) {
      b->send({{"type", "ack"}, {"useq", useq}});
      acked = static_cast<int>(useq);
    }
  }
  CHECK(seen.size() == 20);
  CHECK(retransmissions > 0);
  CHECK(acked == 20);
}
