// The PostgreSQL store's own promises (docs/STORAGE.md), each against a private PostgreSQL server:
// PostgreSQL decides every number and every uniqueness, so two imserver processes on one database
// hand out unique names and gapless seq/useq; and a database that goes away and comes back costs
// sends an `unavailable` meanwhile, never an acknowledged message.

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "support/inbox_reader.hpp"
#include "support/postgres.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using imclient::Connection;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> server_args(const std::string& conninfo) {
  return {"--postgres", conninfo, "--password-hash-cost", "min", "--log-level", "warn", "--register-per-min-per-ip", "0",
          "--rate-sends-per-s", "0", "--rate-frames-per-s", "0"};
}

// Sends `count` messages to `to` on `conn` as fast as the server takes them, then collects their
// send_acks; returns the seq of each.
std::vector<uint64_t> send_burst(Connection& conn, uint64_t to, int count, const std::string& tag) {
  for (int i = 0; i < count; ++i) conn.send(imclient::text_message(to, tag + std::to_string(i)));
  std::vector<uint64_t> seqs;
  while (static_cast<int>(seqs.size()) < count) {
    auto f = conn.next(20s);
    REQUIRE_MESSAGE(f, "send_acks missing: " << seqs.size() << " of " << count);
    if ((*f)["type"] == "send_ack") seqs.push_back((*f)["seq"].get<uint64_t>());
    else REQUIRE_MESSAGE((*f)["type"] != "error", f->dump());
  }
  return seqs;
}

// Every event of `account`'s inbox, read from the start by a new device.
std::vector<json> whole_inbox(const imclient::Endpoint& at, const imclient::Account& account, size_t expected) {
  auto conn = imclient::connect_authed(at, account.token, "reader", nullptr, imclient::Transport::websocket,
                                       imclient::Encoding::json, 0);
  imtest::InboxReader reader(*conn);
  CHECK(reader.collect(expected, 30s));
  CHECK(reader.gaps().empty());
  return reader.events();
}

}  // namespace

TEST_CASE("two processes on one database: unique usernames, gapless seq and useq") {
  imtest::PrivatePostgres postgres;
  auto conninfo = postgres.database("shared");
  imtest::TempDir dir_a, dir_b, dir_c;
  imtest::ServerProcess a(dir_a.path(), server_args(conninfo));
  imtest::ServerProcess b(dir_b.path(), server_args(conninfo));

  // Registrations of the same names through both processes at once: exactly one 201 per name.
  const int names = 6, tries = 4;
  std::vector<std::string> usernames;
  for (int n = 0; n < names; ++n) usernames.push_back(imclient::unique_username("race"));
  std::map<std::string, std::atomic<int>> created;
  for (auto& name : usernames) created[name] = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < tries; ++t)
    for (auto& name : usernames)
      threads.emplace_back([&, t, name] {
        auto& at = t % 2 ? a.endpoint : b.endpoint;
        auto r = imclient::http(at, "POST", "/api/register", json{{"username", name}, {"password", "password123"}}.dump());
        if (r.status == 201) ++created[name];
      });
  for (auto& t : threads) t.join();
  for (auto& name : usernames) CHECK_MESSAGE(created[name] == 1, name);

  // Two devices of alice, one on each process, send to bob at once: both processes number the
  // same conversation and the same two inboxes.
  auto alice = imclient::register_and_login(a.endpoint, imclient::unique_username("alice"), "password123");
  auto bob = imclient::register_and_login(b.endpoint, imclient::unique_username("bob"), "password123");
  auto on_a = imclient::connect_authed(a.endpoint, alice.token, "a1");
  auto on_b = imclient::connect_authed(b.endpoint, alice.token, "a2");
  const int per_device = 150;
  std::vector<uint64_t> seqs_a, seqs_b;
  std::thread sender([&] { seqs_a = send_burst(*on_a, bob.user, per_device, "a"); });
  seqs_b = send_burst(*on_b, bob.user, per_device, "b");
  sender.join();
  std::set<uint64_t> seqs(seqs_a.begin(), seqs_a.end());
  seqs.insert(seqs_b.begin(), seqs_b.end());
  CHECK(seqs.size() == 2 * per_device);
  CHECK(*seqs.begin() == 1);
  CHECK(*seqs.rbegin() == 2 * per_device);
  on_a->close();
  on_b->close();

  // A third process reads both inboxes from the database: every message once, useq gapless.
  imtest::ServerProcess c(dir_c.path(), server_args(conninfo));
  for (const auto* who : {&bob, &alice}) {
    auto events = whole_inbox(c.endpoint, *who, 2 * per_device);
    std::set<uint64_t> seen;
    for (const auto& e : events)
      if (e["type"] == "msg") seen.insert(e["seq"].get<uint64_t>());
    CHECK(seen == seqs);
    CHECK(events.size() == 2 * per_device);
  }
}

TEST_CASE("a file uploaded through one process is served by another with its own data directory") {
  imtest::PrivatePostgres postgres;
  auto conninfo = postgres.database("files");
  imtest::TempDir dir_a, dir_b;
  imtest::ServerProcess a(dir_a.path(), server_args(conninfo));
  imtest::ServerProcess b(dir_b.path(), server_args(conninfo));
  auto alice = imclient::register_and_login(a.endpoint, imclient::unique_username("alice"), "password123");
  std::string bytes(300 * 1024, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + i / 251);
  auto upload = imclient::http(a.endpoint, "POST", "/api/files", bytes, alice.token, "application/octet-stream");
  REQUIRE(upload.status == 201);
  auto url = upload.json()["url"].get<std::string>();
  auto got = imclient::http(b.endpoint, "GET", url, "", alice.token);
  CHECK(got.status == 200);
  CHECK(got.body == bytes);
  // The bytes are in the database, not in either data directory.
  CHECK_FALSE(std::filesystem::exists(dir_a.path() + "/files" + url.substr(url.rfind('/'))));
}

TEST_CASE("while the database hangs, HTTP requests that read it wait off the I/O thread, bounded") {
  imtest::PrivatePostgres postgres;
  auto conninfo = postgres.database("hang");
  imtest::TempDir dir;
  auto args = server_args(conninfo);
  args.insert(args.end(), {"--io-threads", "1", "--store-read-queue-max", "1"});
  imtest::ServerProcess server(dir.path(), args);
  auto alice = imclient::register_and_login(server.endpoint, imclient::unique_username("alice"), "password123");
  postgres.pause();
  std::atomic<int> me_status{0};
  std::thread me([&] { me_status = imclient::http(server.endpoint, "GET", "/api/me", "", alice.token, "", 60s).status; });
  // Over several seconds, while /api/me waits for the token check, the only I/O thread keeps
  // answering; on it, the request would have stopped every other socket until the database woke.
  for (int i = 0; i < 5; ++i) CHECK(imclient::http(server.endpoint, "GET", "/healthz", "", "", "", 1s).status == 200);
  CHECK(me_status == 0);  // still waiting: the read really is on the database
  // It holds the only place --store-read-queue-max allows: another request is refused at once.
  auto refused = imclient::http(server.endpoint, "GET", "/api/me", "", alice.token, "", 1s);
  CHECK(refused.status == 503);
  CHECK(refused.json()["error"]["code"] == "unavailable");
  postgres.resume();
  me.join();
  CHECK(me_status == 200);
}

TEST_CASE("the database stopped and restarted under load: unavailable meanwhile, nothing acknowledged lost") {
  imtest::PrivatePostgres postgres;
  auto conninfo = postgres.database("restart");
  imtest::TempDir dir;
  imtest::ServerProcess server(dir.path(), server_args(conninfo));
  auto alice = imclient::register_and_login(server.endpoint, imclient::unique_username("alice"), "password123");
  auto bob = imclient::register_and_login(server.endpoint, imclient::unique_username("bob"), "password123");
  auto conn = imclient::connect_authed(server.endpoint, alice.token, "a");

  // One send at a time, each resent with its cid until acknowledged; the database goes away after
  // a while and comes back. What a send got is recorded by cid.
  std::map<std::string, uint64_t> acked;  // cid -> seq
  size_t unavailable = 0;
  bool health_503 = false;
  auto send_until_acked = [&](const std::string& cid, bool database_down) {
    for (;;) {
      conn->send(imclient::text_message(bob.user, "m", cid));
      auto f = conn->next(20s);
      // Alice's own copies of what she sent, acknowledged as any client does.
      for (; f && f->contains("useq"); f = conn->next(20s)) conn->send({{"type", "ack"}, {"useq", (*f)["useq"]}});
      REQUIRE(f);
      if ((*f)["type"] == "send_ack") {
        acked[cid] = (*f)["seq"].get<uint64_t>();
        return;
      }
      REQUIRE_MESSAGE((*f)["type"] == "error", f->dump());
      REQUIRE_MESSAGE((*f)["code"] == "unavailable", f->dump());
      ++unavailable;
      if (imclient::http(server.endpoint, "GET", "/healthz").status == 503) health_503 = true;
      if (database_down && unavailable >= 3) return;  // seen enough: bring it back
      std::this_thread::sleep_for(50ms);  // a client's back-off before resending
    }
  };
  for (int i = 0; i < 50; ++i) send_until_acked("before" + std::to_string(i), false);
  postgres.stop();
  std::string pending = "during";
  send_until_acked(pending, true);
  CHECK(unavailable >= 3);
  CHECK(health_503);
  // A token that cannot be checked is not a bad token: 503 over HTTP, and over WebSocket error
  // `unavailable` then close 1001, so that the client keeps it and reconnects later.
  CHECK(imclient::http(server.endpoint, "GET", "/api/me", "", bob.token).status == 503);
  {
    auto probe = imclient::Connection::open(server.endpoint, imclient::Transport::websocket, imclient::Encoding::json);
    probe->send({{"type", "auth"}, {"token", bob.token}, {"device", "probe"}});
    CHECK(probe->expect("error", 20s)["code"] == "unavailable");
    auto code = probe->wait_closed(20s);
    REQUIRE(code);
    CHECK(*code == 1001);
  }
  postgres.start();
  // The first read after the restart (a token check) works: a reader connection found broken is
  // replaced at once.
  imclient::connect_authed(server.endpoint, bob.token, "after-restart")->close();
  send_until_acked(pending, false);  // the same cid: stored once, whenever it was
  for (int i = 0; i < 50; ++i) send_until_acked("after" + std::to_string(i), false);
  CHECK(imclient::http(server.endpoint, "GET", "/healthz").status == 200);

  std::set<uint64_t> seqs;
  for (auto& [cid, seq] : acked) seqs.insert(seq);
  CHECK(seqs.size() == 101);
  CHECK(*seqs.rbegin() == 101);  // gapless: nothing stored twice, nothing stored unacknowledged
  auto events = whole_inbox(server.endpoint, bob, 101);
  std::set<uint64_t> delivered;
  for (const auto& e : events) delivered.insert(e["seq"].get<uint64_t>());
  CHECK(delivered == seqs);
}
