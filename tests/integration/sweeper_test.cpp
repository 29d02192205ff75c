// The server's retention work: the start-up cleanup of unfinished uploads, the background sweep
// (observed through /metrics and the store), and what a device sees after its events were swept.

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "store/accounts.hpp"
#include "store/inbox.hpp"
#include "store/keys.hpp"
#include "store/retention.hpp"
#include "store/social.hpp"
#include "store/store.hpp"
#include "support/inbox_reader.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using imclient::text_message;
using imtest::InboxReader;
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::unique_ptr<im::Store> open_store(const std::string& data_dir) {
  std::string error;
  auto store = im::Store::open({data_dir + "/db", false}, &error);
  REQUIRE_MESSAGE(store, error);
  return store;
}

// The value of an untyped Prometheus sample `name` in /metrics, or -1 when absent.
long long metric(const imclient::Endpoint& endpoint, const std::string& name) {
  auto res = imclient::http(endpoint, "GET", "/metrics");
  if (res.status != 200) return -1;
  std::istringstream lines(res.body);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
  return -1;
}

// Polls `name` until it is at least `at_least` or `timeout` passed; returns the last value.
long long wait_for_metric(const imclient::Endpoint& endpoint, const std::string& name, long long at_least,
                          std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  long long value = metric(endpoint, name);
  while (value < at_least && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    value = metric(endpoint, name);
  }
  return value;
}

std::vector<uint64_t> inbox_useqs(const im::Store& store, im::UserId user) {
  std::vector<uint64_t> out;
  for (auto& e : im::read_inbox(store, user, 0, 1000)) out.push_back(e.useq);
  return out;
}

}  // namespace

TEST_CASE("start-up deletes files/*.tmp and files never recorded in the store, and nothing else") {
  imtest::TempDir dir;
  auto files = fs::path(dir.path()) / "files";
  fs::create_directories(files);
  const std::string recorded = "0123456789abcdef0123456789abcdef", unrecorded = "fedcba9876543210fedcba9876543210";
  {
    auto store = open_store(dir.path());
    REQUIRE(store->commit_and_wait(
        [&](im::Txn& txn) { im::put_file_record(txn, recorded, im::FileRecord{"text/plain", 13}); }));
  }
  write_file(files / (recorded + ".tmp"), "partial");
  write_file(files / "x.tmp", "partial");
  write_file(files / recorded, "a stored file");
  write_file(files / unrecorded, "renamed, then the crash came before its record");
  write_file(files / "notes.txt", "not ours");
  fs::create_directories(files / "dir.tmp");  // not a regular file: left alone
  imtest::ServerProcess server(dir.path(), {"--password-hash-cost", "min", "--sweep-interval-s", "0"});
  CHECK_FALSE(fs::exists(files / (recorded + ".tmp")));
  CHECK_FALSE(fs::exists(files / "x.tmp"));
  CHECK(fs::exists(files / recorded));
  CHECK_FALSE(fs::exists(files / unrecorded));
  CHECK(fs::exists(files / "notes.txt"));
  CHECK(fs::exists(files / "dir.tmp"));
  CHECK(server.log().find("removed 2 unfinished upload(s)") != std::string::npos);
  CHECK(server.log().find("removed 1 upload(s) never recorded") != std::string::npos);
  CHECK(server.stop(SIGTERM) == 0);
}

TEST_CASE("the sweeper runs shortly after start: expired dedup records and old inbox events go") {
  imtest::TempDir dir;
  const int64_t now = im::now_ms();
  {
    auto store = open_store(dir.path());
    im::DedupIndex index(100);
    REQUIRE(store->commit_and_wait([&](im::Txn& txn) {
      im::put_dedup(txn, index, 42, "expired", im::DedupRecord{"u:42:43", 1, now - kDayMs}, now - 1000);
      im::put_dedup(txn, index, 42, "valid", im::DedupRecord{"u:42:43", 2, now}, now + kDayMs);
      auto old_msg = R"("conv":"u:42:43","seq":1,"from":43,"body":{"text":"old"},"ts":)" +
                     std::to_string(now - 31 * kDayMs);
      auto new_msg = R"("conv":"u:42:43","seq":2,"from":43,"body":{"text":"new"},"ts":)" + std::to_string(now);
      im::append_inbox(txn, 42, "msg", old_msg, 0, nullptr);                                   // 1: expired
      im::append_inbox(txn, 42, "read", R"("conv":"u:42:43","reader":42,"seq":1)", 0, nullptr);  // 2: kept
      im::append_inbox(txn, 42, "msg", new_msg, 0, nullptr);                                   // 3: kept
    }));
    store->flush();
  }
  imtest::ServerProcess server(dir.path(), {"--password-hash-cost", "min", "--log-level", "info"});
  // sweeps_total moves after both sweeps of a run are counted.
  REQUIRE(wait_for_metric(server.endpoint, "imserver_sweeps_total", 1, 10s) >= 1);
  CHECK(metric(server.endpoint, "imserver_dedup_records_expired_total") == 1);
  CHECK(metric(server.endpoint, "imserver_inbox_events_expired_total") == 1);
  CHECK(server.stop(SIGTERM) == 0);
  CHECK(server.log().find("sweep: deleted 1 inbox event(s)") != std::string::npos);

  auto store = open_store(dir.path());
  std::string value;
  CHECK_FALSE(store->get(im::keys::dedup(42, "expired"), &value));
  CHECK(im::find_dedup(*store, 42, "valid", now));
  CHECK(inbox_useqs(*store, 42) == std::vector<uint64_t>{2, 3});
  CHECK(im::inbox_head(*store, 42) == 3);
}

TEST_CASE("a device whose cursor is below the swept events gets gap: true, then the rest in order") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob");
  // Bob's phone is known (cursor 0) and offline while alice sends.
  imclient::connect_authed(server.endpoint, bob.token, "phone")->close();
  {
    auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
    for (int i = 0; i < 3; ++i) a->send(text_message(bob.user, "old" + std::to_string(i)));
    for (int i = 0; i < 3; ++i) a->expect("send_ack", 10s);
  }
  server.stop();
  {
    // 31 days later, under the default 30-day retention.
    auto store = open_store(server.options.data_dir);
    auto swept = im::sweep_inbox(*store, im::now_ms() + 31 * kDayMs, server.options.inbox_retention_days * kDayMs);
    CHECK(swept.ok);
    CHECK(swept.deleted >= 3);
    CHECK(inbox_useqs(*store, bob.user).empty());
    CHECK(im::inbox_head(*store, bob.user) == 3);
    store->flush();
  }
  server.restart();
  auto a = imclient::connect_authed(server.endpoint, alice.token, "a");
  a->send(text_message(bob.user, "after the sweep"));
  a->expect("send_ack", 10s);

  json ok;
  auto phone = imclient::connect_authed(server.endpoint, bob.token, "phone", &ok);
  CHECK(ok["gap"] == true);
  CHECK(ok["useq"] == 4);  // the head never goes back
  InboxReader inbox(*phone, 3);
  REQUIRE(inbox.collect(1, 5s));
  CHECK(inbox.events()[0]["useq"] == 4);
  CHECK(inbox.events()[0]["body"]["text"] == "after the sweep");
  phone->close();

  // A cursor at the last swept event is not behind anything kept: no gap.
  json ok2;
  imclient::connect_authed(server.endpoint, bob.token, "tablet", &ok2, imclient::Transport::websocket,
                           imclient::Encoding::json, 3);
  CHECK(ok2["gap"] == false);
}
