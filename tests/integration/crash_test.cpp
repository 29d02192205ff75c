// Durability and exactly-once under failure (issue 3): the server is killed with SIGKILL at random
// moments while a client sends; clients are cut at random points and resend with the same cid.

#include <doctest/doctest.h>

#include <signal.h>

#include <cstdlib>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "integration/ops_support.hpp"
#include "support/inbox_reader.hpp"
#include "support/raw_ws.hpp"
#include "support/wire_cut.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using imclient::Connection;
using imtest::InboxReader;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json numbered(uint64_t to, int n) {
  return {{"type", "send"}, {"cid", "n" + std::to_string(n)}, {"to", {{"user", to}}}, {"body", {{"n", n}}}};
}

// Registers <prefix>_alice and <prefix>_bob; Alice ("a") sends Bob five numbered messages and
// Bob's "phone" (connected with since 0) acknowledges the first three. Returns both connections.
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> five_sent_three_acknowledged(
    const imclient::Endpoint& ep, const std::string& prefix, imclient::Account& alice, imclient::Account& bob) {
  alice = imclient::register_and_login(ep, prefix + "_alice", "password123");
  bob = imclient::register_and_login(ep, prefix + "_bob", "password123");
  auto b = imclient::connect_authed(ep, bob.token, "phone", nullptr, imclient::Transport::websocket,
                                    imclient::Encoding::json, 0);
  auto a = imclient::connect_authed(ep, alice.token, "a");
  for (int n = 0; n < 5; ++n) {
    a->send(numbered(bob.user, n));
    a->expect("send_ack");
  }
  InboxReader inbox(*b);
  REQUIRE(inbox.collect(3, 5s));  // acknowledges useq 1..3
  return {std::move(a), std::move(b)};
}

// Reads the whole inbox of a fresh device from the start and returns the `n` of each msg event.
std::vector<int> delivered_numbers(const imclient::Endpoint& ep, const std::string& token, size_t expected) {
  auto conn = imclient::connect_authed(ep, token, "reader-" + imclient::fresh_cid(), nullptr,
                                       imclient::Transport::websocket, imclient::Encoding::json, 0);
  InboxReader inbox(*conn);
  // The replay must keep flowing, however slow the build (a sanitizer's is many times slower).
  while (inbox.events().size() < expected && inbox.collect(1, 20s)) {
  }
  inbox.collect(1, 300ms);  // anything beyond the expected count is a duplicate
  CHECK(inbox.gaps().empty());
  std::vector<int> out;
  for (auto& e : inbox.events())
    if (e["type"] == "msg") out.push_back(e["body"]["n"].get<int>());
  return out;
}

// The random seed of a test: IMTEST_SEED when set (to replay a failed run), else a fresh one. It
// is printed either way, so that a failure can be replayed.
uint32_t test_seed() {
  uint32_t seed = std::random_device{}();
  if (const char* given = std::getenv("IMTEST_SEED")) seed = static_cast<uint32_t>(std::stoul(given));
  MESSAGE("seed " << seed << " (replay with IMTEST_SEED=" << seed << ")");
  return seed;
}

}  // namespace

TEST_CASE("crash: every acknowledged message survives kill -9 exactly once, in order") {
  imtest::TempDir dir;
  std::mt19937 rng(test_seed());
  std::vector<std::string> args = {"--password-hash-cost", "min", "--log-level", "warn", "--rate-sends-per-s", "0",
                                   "--rate-frames-per-s", "0"};
  imclient::Account alice, bob;
  {
    imtest::ServerProcess server(dir.path(), args);
    alice = imclient::register_and_login(server.endpoint, "crash_alice", "password123");
    bob = imclient::register_and_login(server.endpoint, "crash_bob", "password123");
    server.stop(SIGTERM);
  }
  std::set<int> acked;
  std::vector<int> pending;  // sent, no ack seen yet: resent with the same cid next round
  int next_n = 0;
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    imtest::ServerProcess server(dir.path(), args);
    auto conn = imclient::connect_authed(server.endpoint, alice.token, "sender");
    // Resend what never got an ack, then new messages, at most kWindow unanswered at a time. The
    // crash comes after a random number of send_acks, while the last kWindow sends are unanswered
    // at most and the ones after them unsent: it always cuts the round short, however fast the
    // machine (a kill after a random time could come once all 400 were acknowledged).
    constexpr size_t kWindow = 32;
    std::vector<int> to_send = pending;
    for (int i = 0; i < 400; ++i) to_send.push_back(next_n++);
    pending = to_send;
    auto kill_at = std::uniform_int_distribution<size_t>(1, to_send.size() - kWindow - 1)(rng);
    CAPTURE(kill_at);
    size_t sent = 0, acks = 0;
    for (; sent < kWindow; ++sent) conn->send(numbered(bob.user, to_send[sent]));
    while (auto f = conn->next(2s)) {
      if ((*f)["type"] != "send_ack") continue;
      int n = std::stoi((*f)["cid"].get<std::string>().substr(1));
      acked.insert(n);
      pending.erase(std::remove(pending.begin(), pending.end(), n), pending.end());
      if (++acks == kill_at) kill(server.pid(), SIGKILL);
      if (acks < kill_at && sent < to_send.size()) conn->send(numbered(bob.user, to_send[sent++]));
    }
    CHECK(acks < to_send.size());  // the kill cut the round short
    server.stop(SIGKILL);
  }
  // A last clean round delivers everything still pending.
  imtest::ServerProcess server(dir.path(), args);
  auto conn = imclient::connect_authed(server.endpoint, alice.token, "sender");
  for (int n : pending) conn->send(numbered(bob.user, n));
  for (size_t i = 0; i < pending.size(); ++i) acked.insert(std::stoi(conn->expect("send_ack", 10s)["cid"].get<std::string>().substr(1)));
  REQUIRE(acked.size() == static_cast<size_t>(next_n));

  auto got = delivered_numbers(server.endpoint, bob.token, acked.size());
  std::map<int, int> count;
  for (int n : got) count[n]++;
  for (int n : acked) CHECK_MESSAGE(count[n] == 1, "message " << n);
  CHECK(got.size() == acked.size());
  // One sender, one connection at a time, resending in order: seq order is send order.
  CHECK(std::is_sorted(got.begin(), got.end()));
}

TEST_CASE("chaos: connections cut at random points, resends with the same cid, every device ends identical") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.ack_timeout_ms = 200;
    o.rate_sends_per_s = 0;
    o.rate_frames_per_s = 0;
  });
  auto alice = server.account("alice"), bob = server.account("bob");
  std::mt19937 rng(test_seed());
  auto chance = [&](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };
  const int total = 300;
  std::set<int> acked;
  std::vector<int> unacked;
  auto sender_transport = imclient::Transport::websocket;
  auto open_sender = [&] {
    sender_transport = chance(50) ? imclient::Transport::raw_tcp : imclient::Transport::websocket;
    return imclient::connect_authed(server.endpoint, alice.token, "alice-phone", nullptr, sender_transport);
  };
  // Bob's two devices read with their own cursors and are cut at random too.
  struct Reader {
    std::string device;
    std::unique_ptr<Connection> conn;
    std::unique_ptr<InboxReader> inbox;
    uint64_t last = 0;
    std::vector<json> events;
  };
  std::vector<Reader> readers(2);
  readers[0].device = "bob-1";
  readers[1].device = "bob-2";
  auto reopen = [&](Reader& r) {
    if (r.inbox) {
      r.events.insert(r.events.end(), r.inbox->events().begin(), r.inbox->events().end());
      r.last = r.inbox->last_useq();
    }
    r.conn = imclient::connect_authed(server.endpoint, bob.token, r.device, nullptr, imclient::Transport::websocket,
                                      imclient::Encoding::json, r.last);
    r.inbox = std::make_unique<InboxReader>(*r.conn, r.last);
  };
  for (auto& r : readers) reopen(r);

  auto sender = open_sender();
  int next = 0;
  while (next < total || !unacked.empty()) {
    // Send a few (new or resent), then read acks, then maybe cut the connection somewhere.
    std::vector<int> batch(unacked.begin(), unacked.end());
    for (int i = 0; i < 5 && next < total; ++i) batch.push_back(next++);
    unacked = batch;
    int cut = std::uniform_int_distribution<int>(0, 3)(rng);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (cut == 0 && i == batch.size() / 2) {
        // Mid-frame: part of the next frame as it goes on the wire, then drop the socket.
        sender->send_wire_raw(imtest::part_of_wire_frame(sender_transport, numbered(bob.user, batch[i]), rng));
        break;
      }
      sender->send(numbered(bob.user, batch[i]));
    }
    if (cut != 1 && cut != 0) {
      // Read acks for what was sent (cut == 3: only some of them).
      size_t want = cut == 3 ? batch.size() / 2 : batch.size();
      size_t got_acks = 0;
      while (got_acks < want) {
        auto frame = sender->next(2s);
        if (!frame) break;
        // The sender's own inbox gets its messages too: acknowledge them like any device.
        if ((*frame)["type"] == "msg") sender->send({{"type", "ack"}, {"useq", (*frame)["useq"]}});
        if ((*frame)["type"] != "send_ack") continue;
        ++got_acks;
        int n = std::stoi((*frame)["cid"].get<std::string>().substr(1));
        acked.insert(n);
        unacked.erase(std::remove(unacked.begin(), unacked.end(), n), unacked.end());
      }
    }
    if (cut != 2) {  // 0: mid-frame, 1: before any ack, 3: after some acks
      sender->abort();
      sender = open_sender();
    }
    for (auto& r : readers) {
      r.inbox->collect(1000, 20ms);
      if (chance(20)) {
        r.conn->abort();
        reopen(r);
      }
    }
  }
  for (auto& r : readers) {
    r.inbox->collect(total, 1000ms);
    r.events.insert(r.events.end(), r.inbox->events().begin(), r.inbox->events().end());
    r.inbox.reset();
    std::vector<int> got;
    for (auto& e : r.events) got.push_back(e["body"]["n"].get<int>());
    CAPTURE(r.device);
    CHECK(got.size() == static_cast<size_t>(total));
    std::vector<int> expected(total);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(got == expected);
  }
  CHECK(readers[0].events == readers[1].events);
  CHECK(acked.size() == static_cast<size_t>(total));
}

TEST_CASE("cursor writes are deferred: kill -9 re-sends acknowledged events with their useq; a stop keeps them") {
  imtest::TempDir dir;
  // A flush interval far longer than the test: only a disconnect or shutdown writes the cursor.
  std::vector<std::string> args = {"--password-hash-cost", "min", "--log-level", "warn", "--cursor-flush-ms", "600000"};
  imclient::Account alice, bob;
  {
    imtest::ServerProcess server(dir.path(), args);
    auto [a, b] = five_sent_three_acknowledged(server.endpoint, "cursor", alice, bob);
    b->send({{"type", "ping"}});
    b->expect("pong");  // the acks before it were processed
    server.stop(SIGKILL);
  }
  {
    imtest::ServerProcess server(dir.path(), args);
    auto b = imclient::connect_authed(server.endpoint, bob.token, "phone");
    // The acknowledged cursor was only in memory: the device is sent events 1..5 again, with the
    // same useq, so a client that drops what it already processed (useq <= 3) sees each once.
    InboxReader again(*b);
    REQUIRE(again.collect(5, 5s));
    CHECK(again.events().front()["useq"] == 1);
    CHECK(again.events().back()["body"]["n"] == 4);
    // The pong comes from the connection actor after it handed the acks before it to the user
    // actor: the stop's shutdown message reaches the user actor behind them.
    b->send({{"type", "ping"}});
    b->expect("pong");
    b->close();
    REQUIRE(b->wait_closed(5s));
    server.stop(SIGTERM);  // a clean stop writes what is acknowledged (useq 5)
  }
  imtest::ServerProcess server(dir.path(), args);
  auto b = imclient::connect_authed(server.endpoint, bob.token, "phone");
  InboxReader after(*b);
  CHECK_FALSE(after.collect(1, 300ms));  // nothing after useq 5 to send
  CHECK(after.events().empty());
}

TEST_CASE("a deferred cursor is written within --cursor-flush-ms: after kill -9 the device resumes there") {
  imtest::TempDir dir;
  std::vector<std::string> args = {"--password-hash-cost", "min", "--log-level", "warn", "--cursor-flush-ms", "50",
                                   "--admin-token", opstest::kAdminToken};
  imclient::Account alice, bob;
  {
    imtest::ServerProcess server(dir.path(), args);
    auto [a, b] = five_sent_three_acknowledged(server.endpoint, "flush", alice, bob);
    // No disconnect and no stop: only the flush timer hands the cursor to the store.
    auto stored = [&] {
      auto user = opstest::admin_json(server.endpoint, "/admin/users/" + std::to_string(bob.user));
      for (const auto& d : user["devices"])
        if (d["device"] == "phone") return d["cursor_stored"].get<uint64_t>();
      return uint64_t{0};
    };
    REQUIRE(opstest::eventually([&] { return stored() == 3; }));
    // Writes are applied in order: once a later send is acknowledged, the cursor's write is in
    // LevelDB's log, which survives kill -9.
    a->send(numbered(bob.user, 5));
    a->expect("send_ack");
    server.stop(SIGKILL);
  }
  imtest::ServerProcess server(dir.path(), args);
  auto b = imclient::connect_authed(server.endpoint, bob.token, "phone");
  InboxReader again(*b);
  REQUIRE(again.collect(3, 5s));
  CHECK(again.events().front()["useq"] == 4);
  CHECK(again.events().back()["body"]["n"] == 5);
}
