#include <doctest/doctest.h>

#include <cstdlib>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "store/accounts.hpp"
#include "store/inbox.hpp"
#include "store/keys.hpp"
#include "store/store.hpp"
#include "support/temp_store.hpp"

using namespace im;

using imtest::TempStore;

TEST_CASE("get leaves the value unchanged when the key is missing") {
  TempStore t;
  std::string value = "untouched";
  CHECK_FALSE(t.store->get("missing", &value));
  CHECK(value == "untouched");
  REQUIRE(t.store->commit_and_wait([](Txn& txn) { txn.put("k", "v"); }));
  CHECK(t.store->get("k", &value));
  CHECK(value == "v");
}

TEST_CASE("counters start at 1, have no gaps and survive reopening") {
  for (bool fsync : {false, true}) {
    CAPTURE(fsync);
    TempStore t(fsync);
    auto key = keys::counter_conv_seq(Conv::direct(1, 2));  // a written one (inbox heads are implied)
    std::vector<uint64_t> got;
    for (int i = 0; i < 5; ++i)
      t.store->commit_and_wait([&](Txn& txn) { got.push_back(txn.next(key)); });
    CHECK(got == std::vector<uint64_t>{1, 2, 3, 4, 5});
    CHECK(t.store->counter(key) == 5);
    t.reopen(fsync);
    CHECK(t.store->counter(key) == 5);
    uint64_t next = 0;
    t.store->commit_and_wait([&](Txn& txn) { next = txn.next(key); });
    CHECK(next == 6);
  }
}

TEST_CASE("concurrent commits hand out every number once") {
  for (bool fsync : {false, true}) {
    CAPTURE(fsync);
    TempStore t(fsync);
    auto key = keys::counter_conv_seq(Conv::direct(1, 2));
    std::mutex mutex;
    std::vector<uint64_t> seen;
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th)
      threads.emplace_back([&] {
        for (int i = 0; i < 50; ++i) {
          uint64_t v = 0;
          t.store->commit_and_wait([&](Txn& txn) {
            v = txn.next(key);
            txn.put(keys::message(Conv::direct(1, 2), v), "m");
          });
          std::lock_guard<std::mutex> lock(mutex);
          seen.push_back(v);
        }
      });
    for (auto& th : threads) th.join();
    std::sort(seen.begin(), seen.end());
    REQUIRE(seen.size() == 200);
    for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i + 1);
  }
}


TEST_CASE("queued commits apply in call order, each done runs once, and flush waits for them") {
  TempStore t;
  std::atomic<int> done_calls{0};
  std::vector<uint64_t> order;  // filled by the build functions, which run one at a time
  auto key = keys::counter_conv_seq(Conv::group(9));
  for (int i = 1; i <= 500; ++i)
    t.store->commit(
        [&, i](Txn& txn) {
          order.push_back(txn.next(key));
          txn.put("last", std::to_string(i));
        },
        [&](bool ok) {
          CHECK(ok);
          done_calls++;
        });
  t.store->flush();
  CHECK(done_calls == 500);
  REQUIRE(order.size() == 500);
  for (size_t i = 0; i < order.size(); ++i) CHECK(order[i] == i + 1);
  std::string last;
  CHECK(t.store->get("last", &last));
  CHECK(last == "500");
  // A commit after flush (a straggler at shutdown) is still written before commit returns.
  t.store->commit([](Txn& txn) { txn.put("late", "1"); }, nullptr);
  CHECK(t.store->get("late", &last));
}
TEST_CASE("inbox append, read, trim and oldest") {
  TempStore t;
  for (int i = 0; i < 10; ++i)
    t.store->commit_and_wait([&](Txn& txn) { append_inbox(txn, 5, "msg", "\"n\":" + std::to_string(i), 4, nullptr); });
  CHECK(inbox_head(*t.store, 5) == 10);
  CHECK(inbox_oldest(*t.store, 5) == 7);  // only the newest 4 are kept
  auto events = read_inbox(*t.store, 5, 6, 100);
  REQUIRE(events.size() == 4);
  CHECK(events.front().useq == 7);
  CHECK(events.back().text == R"({"type":"msg","useq":10,"n":9})");
  CHECK(read_inbox(*t.store, 5, 8, 1).size() == 1);
  CHECK(read_inbox(*t.store, 6, 0, 10).empty());
}

TEST_CASE("scan in both directions") {
  TempStore t;
  t.store->commit_and_wait([](Txn& txn) {
    for (char c = 'a'; c <= 'e'; ++c) txn.put(std::string("p") + c, std::string(1, c));
    txn.put("q", "x");
  });
  std::string forward, backward;
  t.store->scan("pb", "pe", false, [&](std::string_view, std::string_view v) { forward += v; return true; });
  t.store->scan("p", "q", true, [&](std::string_view, std::string_view v) { backward += v; return true; });
  CHECK(forward == "bcd");
  CHECK(backward == "edcba");
}

TEST_CASE("dedup records expire") {
  TempStore t;
  DedupIndex index(100);
  t.store->commit_and_wait([&](Txn& txn) { put_dedup(txn, index, 1, "c1", DedupRecord{"u:1:2", 3, 100}, 5000); });
  auto found = find_dedup(*t.store, 1, "c1", 4999);
  REQUIRE(found);
  CHECK(found->seq == 3);
  CHECK(found->conv == "u:1:2");
  CHECK_FALSE(find_dedup(*t.store, 1, "c1", 5000));
  CHECK_FALSE(find_dedup(*t.store, 2, "c1", 0));
}

namespace {

// A store whose every read fails (a damaged disk): what lookups tell their callers then.
class UnreadableStore final : public Store {
 public:
  bool get(std::string_view, std::string*) const override { return false; }
  Lookup lookup(std::string_view, std::string*) const override { return Lookup::failed; }
  bool scan(std::string_view, std::string_view, bool,
            const std::function<bool(std::string_view, std::string_view)>&) const override {
    return false;
  }
  void commit(Build, Done done) override {
    if (done) done(false);
  }
  uint64_t counter(const std::string&) const override { return 0; }
  uint64_t approximate_bytes() const override { return 0; }
  void set_write_observer(WriteObserver) override {}
  void flush() override {}
};

}  // namespace

TEST_CASE("lookup and find_dedup tell a missing record from one that cannot be read") {
  TempStore t;
  DedupIndex index(100);
  t.store->commit_and_wait([&](Txn& txn) { put_dedup(txn, index, 1, "c1", DedupRecord{"u:1:2", 3, 100}, 5000); });
  std::string value;
  CHECK(t.store->lookup(keys::dedup(1, "c1"), &value) == Lookup::found);
  CHECK(t.store->lookup(keys::dedup(1, "c2"), &value) == Lookup::missing);
  bool failed = true;
  CHECK(find_dedup(*t.store, 1, "c1", 0, &failed));
  CHECK_FALSE(failed);
  failed = true;
  CHECK_FALSE(find_dedup(*t.store, 1, "c2", 0, &failed));
  CHECK_FALSE(failed);  // missing: a new cid
  Lookup in_build = Lookup::failed;
  t.store->commit_and_wait([&](Txn& txn) { in_build = txn.lookup(keys::dedup(1, "c1"), &value); });
  CHECK(in_build == Lookup::found);

  UnreadableStore broken;
  failed = false;
  CHECK_FALSE(find_dedup(broken, 1, "c1", 0, &failed));
  CHECK(failed);  // unknown: the caller must not store the message as new
}

TEST_CASE("accounts: register, login, authenticate, revoke") {
  REQUIRE(init_crypto());
  TempStore t;
  Accounts accounts(*t.store, PasswordHashCost::min, 3600);
  auto r = accounts.register_user("alice", "password1");
  REQUIRE_FALSE(r.error);
  CHECK(r.user == 1);
  CHECK(*accounts.register_user("alice", "password2").error == Error::username_taken);
  CHECK(*accounts.register_user("al", "password2").error == Error::invalid);
  CHECK(*accounts.login("alice", "wrong-password").error == Error::bad_credentials);
  CHECK(*accounts.login("nobody", "password1").error == Error::bad_credentials);
  auto login = accounts.login("alice", "password1");
  REQUIRE_FALSE(login.error);
  CHECK(login.token.size() == 64);
  auto who = accounts.authenticate(login.token);
  REQUIRE(who);
  CHECK(who->user == 1);
  // Only the token's hash is stored.
  std::string ignored;
  CHECK_FALSE(t.store->get(keys::token(login.token), &ignored));
  CHECK(accounts.revoke(login.token));
  CHECK_FALSE(accounts.authenticate(login.token));
  CHECK(accounts.username_of(1) == std::optional<std::string>("alice"));
}

TEST_CASE("tokens expire") {
  REQUIRE(init_crypto());
  TempStore t;
  Accounts accounts(*t.store, PasswordHashCost::min, 0);  // expires at once
  REQUIRE_FALSE(accounts.register_user("bob_1", "password1").error);
  auto login = accounts.login("bob_1", "password1");
  REQUIRE_FALSE(login.error);
  CHECK_FALSE(accounts.authenticate(login.token));
}
