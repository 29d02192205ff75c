// store/retention: time-based retention of inbox events and dedup records, over a real LevelDB,
// with `now` passed in so that time can move.

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/inbox.hpp"
#include "store/keys.hpp"
#include "store/retention.hpp"
#include "store/store.hpp"
#include "support/temp_store.hpp"

using namespace im;
using imtest::TempStore;

namespace {

constexpr int64_t kNow = 10'000'000;
constexpr int64_t kRetention = 1'000'000;
constexpr int64_t kOld = kNow - kRetention - 1;  // just older than the cutoff
constexpr int64_t kYoung = kNow - kRetention;    // exactly at the cutoff: kept

std::string msg(int64_t ts, const std::string& body = R"({"text":"hi"})") {
  return R"("conv":"u:1:2","seq":1,"from":1,"body":)" + body + R"(,"ts":)" + std::to_string(ts);
}

struct Event {
  const char* type;
  std::string members;
};

// Appends the events to `user`'s inbox in one write, without the count limit.
void append(Store& store, UserId user, const std::vector<Event>& events) {
  REQUIRE(store.commit_and_wait([&](Txn& txn) {
    for (auto& e : events) append_inbox(txn, user, e.type, e.members, 0, nullptr);
  }));
}

std::vector<uint64_t> useqs(const Store& store, UserId user) {
  std::vector<uint64_t> out;
  for (auto& e : read_inbox(store, user, 0, 1'000'000)) out.push_back(e.useq);
  return out;
}

const Event kRead{"read", R"("conv":"u:1:2","reader":2,"seq":1)"};
const Event kGroup{"group", R"("group":5,"event":"joined","user":3)"};
const Event kFriend{"friend", R"("user":3,"state":"friends")"};

}  // namespace

TEST_CASE("sweep_inbox deletes up to the newest old ts; ts-less events only below an old one") {
  TempStore t;
  auto& store = *t.store;
  append(store, 7,
         {
             {"msg", msg(100)},                       // 1 old
             kRead,                                   // 2 older than 3: deleted
             {"msg", msg(kOld)},                      // 3 old: the newest old ts
             kGroup,                                  // 4 no later old ts: kept
             kFriend,                                 // 5 kept
             {"msg", msg(kYoung, R"({"ts":1})")},     // 6 young (a nested "ts" does not count): stop
             {"msg", msg(50)},                        // 7 old ts after a young one (clock step): kept
             kRead,                                   // 8 kept
         });
  append(store, 8, {kRead, kFriend});                                      // no ts at all: kept
  append(store, 9, {{"msg", msg(1)}, {"notice", R"("body":"n","ts":2)"}, kRead});  // notice has ts
  append(store, 10, {{"msg", msg(5)}});                                     // everything old
  store.commit_and_wait([](Txn& txn) { txn.put(keys::message(Conv::direct(1, 2), 1), "{}"); });

  auto result = sweep_inbox(store, kNow, kRetention);
  CHECK(result.ok);
  CHECK(result.users == 4);
  CHECK(result.deleted == 3 + 0 + 2 + 1);
  CHECK(result.commits == 1);
  CHECK(useqs(store, 7) == std::vector<uint64_t>{4, 5, 6, 7, 8});
  CHECK(useqs(store, 8) == std::vector<uint64_t>{1, 2});
  CHECK(useqs(store, 9) == std::vector<uint64_t>{3});
  CHECK(useqs(store, 10).empty());
  CHECK(inbox_oldest(store, 7) == 4);
  std::string value;
  CHECK(store.get(keys::message(Conv::direct(1, 2), 1), &value));  // other prefixes untouched

  SUBCASE("the head counter is untouched: the next append gets the next useq, also after a reopen") {
    CHECK(inbox_head(store, 7) == 8);
    CHECK(inbox_head(store, 10) == 1);
    t.reopen();
    CHECK(inbox_head(*t.store, 7) == 8);
    CHECK(inbox_head(*t.store, 10) == 1);
    append(*t.store, 10, {kRead});
    CHECK(useqs(*t.store, 10) == std::vector<uint64_t>{2});
    CHECK(inbox_oldest(*t.store, 10) == 2);
  }
  SUBCASE("a second run deletes nothing") {
    auto again = sweep_inbox(store, kNow, kRetention);
    CHECK(again.ok);
    CHECK(again.deleted == 0);
    CHECK(again.commits == 0);
    CHECK(useqs(store, 7) == std::vector<uint64_t>{4, 5, 6, 7, 8});
  }
  SUBCASE("time moves on: event 6 expires, and with it 4, 5 and 7; the trailing read stays") {
    auto later = sweep_inbox(store, kNow + kRetention + 1, kRetention);
    CHECK(later.deleted == 4);
    CHECK(useqs(store, 7) == std::vector<uint64_t>{8});
    CHECK(useqs(store, 9) == std::vector<uint64_t>{3});
  }
}

TEST_CASE("sweep_inbox reads the ts of msg events stored by reference") {
  TempStore t;
  auto& store = *t.store;
  const auto conv = Conv::direct(1, 2);
  REQUIRE(store.commit_and_wait([&](Txn& txn) {
    uint64_t seq = 0;
    for (auto ts : {kOld - 5, kOld, kYoung}) {
      ++seq;
      txn.put(keys::message(conv, seq), R"({"from":1,"body":{},"ts":)" + std::to_string(ts) + "}");
      append_inbox_msg(txn, 7, MsgRef{conv, seq, ts, {}}, "", 0, nullptr);
    }
  }));
  append(store, 7, {kRead});
  auto result = sweep_inbox(store, kNow, kRetention);
  CHECK(result.ok);
  CHECK(result.deleted == 2);
  CHECK(useqs(store, 7) == std::vector<uint64_t>{3, 4});
}

TEST_CASE("sweep_inbox deletes in commits of at most keys_per_commit keys, across users") {
  TempStore t;
  auto& store = *t.store;
  SUBCASE("2,500 old events of one user and 600 of another: 4 commits of at most 1,000") {
    std::vector<Event> many(2500, Event{"msg", msg(100)});
    many.push_back(Event{"msg", msg(kYoung)});
    append(store, 1, many);
    append(store, 2, std::vector<Event>(600, Event{"notice", R"("body":"n","ts":7)"}));
    auto result = sweep_inbox(store, kNow, kRetention);
    CHECK(result.ok);
    CHECK(result.deleted == 3100);
    CHECK(result.commits == 4);  // 1,000 + 1,000 + 1,000 (500 of user 1, 500 of user 2) + 100
    CHECK(useqs(store, 1) == std::vector<uint64_t>{2501});
    CHECK(useqs(store, 2).empty());
    CHECK(inbox_head(store, 1) == 2501);
    CHECK(sweep_inbox(store, kNow, kRetention).deleted == 0);
  }
  SUBCASE("a small chunk size") {
    for (UserId u = 1; u <= 3; ++u) append(store, u, std::vector<Event>(5, Event{"msg", msg(100)}));
    auto result = sweep_inbox(store, kNow, kRetention, 7);
    CHECK(result.deleted == 15);
    CHECK(result.commits == 3);  // 7 + 7 + 1
  }
  SUBCASE("the largest user id is swept and ends the walk") {
    append(store, ~UserId{0}, {{"msg", msg(100)}, kRead});
    auto result = sweep_inbox(store, kNow, kRetention);
    CHECK(result.deleted == 1);
    CHECK(useqs(store, ~UserId{0}) == std::vector<uint64_t>{2});
  }
  SUBCASE("inboxes emptied by a sweep keep their heads across a reopen, the largest user id too") {
    // Users 0xFF and 0x100 are neighbours whose keys differ in more than the last byte.
    for (UserId u : {UserId{0xFF}, UserId{0x100}, ~UserId{0}})
      append(store, u, std::vector<Event>(3, Event{"msg", msg(100)}));
    t.reopen();  // the heads are not cached when the sweep deletes them
    auto result = sweep_inbox(*t.store, kNow, kRetention);
    CHECK(result.deleted == 9);
    t.reopen();
    for (UserId u : {UserId{0xFF}, UserId{0x100}, ~UserId{0}}) {
      CAPTURE(u);
      CHECK(useqs(*t.store, u).empty());
      CHECK(inbox_head(*t.store, u) == 3);
      append(*t.store, u, {kRead});
      CHECK(useqs(*t.store, u) == std::vector<uint64_t>{4});
    }
  }
  SUBCASE("a cancelled sweep stops before deleting") {
    append(store, 1, {{"msg", msg(100)}});
    std::atomic<bool> cancel{true};
    auto result = sweep_inbox(store, kNow, kRetention, kSweepKeysPerCommit, &cancel);
    CHECK(result.cancelled);
    CHECK_FALSE(result.ok);
    CHECK(useqs(store, 1) == std::vector<uint64_t>{1});
  }
}

TEST_CASE("sweep_inbox is safe while appends go on: young events and the useq sequence survive") {
  TempStore t;
  auto& store = *t.store;
  append(store, 1, std::vector<Event>(3000, Event{"msg", msg(100)}));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    // 2,000 young events, one write each, while the sweep runs; the count limit (5,000) also
    // deletes some of the keys the sweep is deleting.
    for (int i = 0; i < 2000; ++i)
      store.commit_and_wait([](Txn& txn) { append_inbox(txn, 1, "msg", msg(kNow), 4000, nullptr); });
    done = true;
  });
  uint64_t deleted = 0;
  while (!done) deleted += sweep_inbox(store, kNow, kRetention, 100).deleted;
  writer.join();
  deleted += sweep_inbox(store, kNow, kRetention, 100).deleted;
  auto kept = useqs(store, 1);
  CHECK(kept.size() == 2000);
  CHECK(kept.front() == 3001);
  CHECK(kept.back() == 5000);
  CHECK(inbox_head(store, 1) == 5000);
  CHECK(deleted <= 3000);  // some were deleted by the count limit first (deletes of missing keys count)
}

TEST_CASE("sweep_dedup deletes exactly the records find_dedup no longer returns") {
  DedupIndex index(100);
  TempStore t;
  auto& store = *t.store;
  REQUIRE(store.commit_and_wait([&](Txn& txn) {
    put_dedup(txn, index, 1, "a", DedupRecord{"u:1:2", 1, 1}, kNow - 1);
    put_dedup(txn, index, 1, "b", DedupRecord{"u:1:2", 2, 1}, kNow);  // expires now: gone
    put_dedup(txn, index, 1, "c", DedupRecord{"u:1:2", 3, 1}, kNow + 1);
    put_dedup(txn, index, 2, "d", DedupRecord{"u:2:3", 1, 1}, 10);
    txn.put(keys::dedup(3, "garbage"), "not json");
    txn.put(keys::dedup(3, "no-expiry"), R"({"conv":"u:1:3","seq":1})");
    txn.put(keys::dedup(3, "string-expiry"), R"({"expires_ms":"later"})");
  }));
  auto result = sweep_dedup(store, kNow);
  CHECK(result.ok);
  CHECK(result.examined == 7);
  CHECK(result.deleted == 6);
  CHECK(result.commits == 1);
  std::string value;
  for (auto [user, cid] : std::vector<std::pair<UserId, std::string>>{
           {1, "a"}, {1, "b"}, {2, "d"}, {3, "garbage"}, {3, "no-expiry"}, {3, "string-expiry"}})
    CHECK_FALSE(store.get(keys::dedup(user, cid), &value));
  REQUIRE(find_dedup(store, 1, "c", kNow));
  CHECK(find_dedup(store, 1, "c", kNow)->seq == 3);
  auto again = sweep_dedup(store, kNow);
  CHECK(again.deleted == 0);
  CHECK(again.commits == 0);
  CHECK(again.examined == 1);
}

TEST_CASE("sweep_dedup over many records: paged scan, chunked commits, idempotent") {
  DedupIndex index(0);
  TempStore t;
  auto& store = *t.store;
  // 9,000 records over 3 users (more than one scan page); every third one still valid.
  REQUIRE(store.commit_and_wait([&](Txn& txn) {
    for (int i = 0; i < 9000; ++i)
      put_dedup(txn, index, 1 + i % 3, "cid" + std::to_string(i), DedupRecord{"u:1:2", 1, 1},
                i % 3 == 0 ? kNow + 1000 : kNow - 1000);
  }));
  auto result = sweep_dedup(store, kNow);
  CHECK(result.ok);
  CHECK(result.examined == 9000);
  CHECK(result.deleted == 6000);
  CHECK(result.commits == 6);
  size_t left = 0;
  store.scan(std::string(1, keys::kDedup), keys::prefix_end(std::string(1, keys::kDedup)), false,
             [&](std::string_view, std::string_view) {
               ++left;
               return true;
             });
  CHECK(left == 3000);
  CHECK(sweep_dedup(store, kNow).deleted == 0);
}

TEST_CASE("del_first: a put of the same key in the same group commit survives it, whichever came first") {
  TempStore t;
  auto& store = *t.store;
  REQUIRE(store.commit_and_wait([](Txn& txn) {
    txn.put("k-renewed-before", "old");
    txn.put("k-renewed-after", "old");
    txn.put("k-stale", "old");
  }));
  // One build is one group commit: the sweeper's delete and a renewal meet in the same batch.
  REQUIRE(store.commit_and_wait([](Txn& txn) {
    txn.put("k-renewed-before", "fresh");
    txn.del_first("k-renewed-before");
    txn.del_first("k-renewed-after");
    txn.put("k-renewed-after", "fresh");
    txn.del_first("k-stale");
  }));
  std::string value;
  CHECK(store.get("k-renewed-before", &value));
  CHECK(value == "fresh");
  CHECK(store.get("k-renewed-after", &value));
  CHECK(value == "fresh");
  CHECK_FALSE(store.get("k-stale", &value));
}
