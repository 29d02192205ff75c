// store/dedup_index: the in-memory answer "this cid has no dedup record" must never be given for
// a cid that has one, whatever the order of loads and writes on the commit thread.

#include <doctest/doctest.h>

#include <future>
#include <string>

#include "store/dedup_index.hpp"
#include "store/inbox.hpp"
#include "support/temp_store.hpp"

using namespace im;
using imtest::TempStore;

namespace {

const DedupRecord kAnswer{"u:1:2", 1, 1};
constexpr int64_t kExpires = 1'000'000;

// Loads `user` as the user actor does: in the done callback of an otherwise empty commit.
void load_on_commit_thread(Store& store, DedupIndex& index, UserId user) {
  std::promise<void> loaded;
  store.commit([](Txn&) {}, [&](bool) {
    index.load(store, user);
    loaded.set_value();
  });
  loaded.get_future().wait();
}

}  // namespace

TEST_CASE("an unloaded user may have any cid; a loaded one only the cids stored or put since") {
  TempStore t;
  DedupIndex index(100);
  REQUIRE(t.store->commit_and_wait([&](Txn& txn) { put_dedup(txn, index, 1, "old", kAnswer, kExpires); }));
  CHECK(index.may_be_stored(1, "old"));
  CHECK(index.may_be_stored(1, "never"));  // not loaded: unknown

  load_on_commit_thread(*t.store, index, 1);
  CHECK(index.users_loaded() == 1);
  CHECK(index.may_be_stored(1, "old"));
  CHECK_FALSE(index.may_be_stored(1, "never"));
  CHECK(index.may_be_stored(2, "never"));  // another user: not loaded

  REQUIRE(t.store->commit_and_wait([&](Txn& txn) { put_dedup(txn, index, 1, "new", kAnswer, kExpires); }));
  CHECK(index.may_be_stored(1, "new"));

  index.forget(1);
  CHECK(index.may_be_stored(1, "never"));
  CHECK(index.users_loaded() == 0);
}

TEST_CASE("a put queued before the load, in the same group commit or earlier, is covered") {
  TempStore t;
  DedupIndex index(100);
  std::promise<void> loaded;
  // Queued back to back: the store may write them in one group; the load runs after its write.
  t.store->commit([&](Txn& txn) { put_dedup(txn, index, 1, "a", kAnswer, kExpires); }, nullptr);
  t.store->commit([&](Txn& txn) { put_dedup(txn, index, 1, "b", kAnswer, kExpires); }, nullptr);
  t.store->commit([](Txn&) {}, [&](bool) {
    index.load(*t.store, 1);
    loaded.set_value();
  });
  t.store->commit([&](Txn& txn) { put_dedup(txn, index, 1, "c", kAnswer, kExpires); }, nullptr);
  loaded.get_future().wait();
  REQUIRE(t.store->commit_and_wait([](Txn&) {}));  // "c" written too
  for (auto cid : {"a", "b", "c"}) CHECK(index.may_be_stored(1, cid));
  CHECK_FALSE(index.may_be_stored(1, "d"));
}

TEST_CASE("a user with more cids than the cap is not indexed, at load or as puts add up") {
  TempStore t;
  DedupIndex index(3);
  REQUIRE(t.store->commit_and_wait([&](Txn& txn) {
    for (auto cid : {"a", "b", "c", "d"}) put_dedup(txn, index, 1, cid, kAnswer, kExpires);
    for (auto cid : {"a", "b"}) put_dedup(txn, index, 2, cid, kAnswer, kExpires);
  }));
  load_on_commit_thread(*t.store, index, 1);
  load_on_commit_thread(*t.store, index, 2);
  CHECK(index.users_loaded() == 1);
  CHECK(index.may_be_stored(1, "zzz"));  // over the cap at load: unknown
  CHECK_FALSE(index.may_be_stored(2, "zzz"));

  REQUIRE(t.store->commit_and_wait([&](Txn& txn) {
    put_dedup(txn, index, 2, "c", kAnswer, kExpires);
    put_dedup(txn, index, 2, "d", kAnswer, kExpires);  // the fourth: over the cap
  }));
  CHECK(index.may_be_stored(2, "zzz"));
  CHECK(index.users_loaded() == 0);

  DedupIndex off(0);
  load_on_commit_thread(*t.store, off, 2);
  CHECK(off.users_loaded() == 0);
  CHECK(off.may_be_stored(2, "zzz"));
}
