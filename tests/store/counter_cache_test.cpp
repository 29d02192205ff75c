// The store's counter cache is bounded (StoreOptions::counter_cache_entries): values dropped from
// it are loaded again, from the counter's key or, for an inbox head, from the inbox keys that imply
// it, and counting goes on from there without handing a number out twice.

#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>

#include "store/inbox.hpp"
#include "store/keys.hpp"
#include "store/store.hpp"

using namespace im;

namespace {

struct SmallCacheStore {
  std::string dir;
  std::unique_ptr<Store> store;
  explicit SmallCacheStore(size_t entries) {
    std::string pattern = (std::filesystem::temp_directory_path() / "imstore-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()));
    dir = pattern;
    StoreOptions options;
    options.path = dir;
    options.counter_cache_entries = entries;
    std::string error;
    store = Store::open(options, &error);
    REQUIRE_MESSAGE(store, error);
  }
  ~SmallCacheStore() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

}  // namespace

TEST_CASE("conversation counters: the cache holds at most its bound, dropped values come back") {
  SmallCacheStore t(4);
  auto& store = *t.store;
  constexpr UserId kUsers = 50;
  for (int round = 1; round <= 2; ++round)
    for (UserId u = 1; u <= kUsers; ++u) {
      uint64_t seq = 0;
      REQUIRE(store.commit_and_wait([&](Txn& txn) { seq = txn.next(keys::counter_conv_seq(Conv::direct(u, u + 1000))); }));
      CHECK(seq == static_cast<uint64_t>(round));
    }
  CHECK(store.cached_counters() <= 4);
  for (UserId u = 1; u <= kUsers; ++u) CHECK(store.counter(keys::counter_conv_seq(Conv::direct(u, u + 1000))) == 2);
  CHECK(store.cached_counters() <= 4);
  CHECK(store.cached_counters() >= 1);
}

TEST_CASE("inbox heads (implied counters): evicted heads are loaded from the inbox keys") {
  SmallCacheStore t(2);
  auto& store = *t.store;
  constexpr UserId kUsers = 20;
  for (int round = 1; round <= 3; ++round)
    for (UserId u = 1; u <= kUsers; ++u) {
      uint64_t useq = 0;
      REQUIRE(store.commit_and_wait([&](Txn& txn) { useq = append_inbox(txn, u, "notice", "\"body\":{}", 100, nullptr); }));
      CHECK(useq == static_cast<uint64_t>(round));
    }
  CHECK(store.cached_counters() <= 2);
  for (UserId u = 1; u <= kUsers; ++u) CHECK(store.counter(keys::counter_inbox_head(u)) == 3);
  CHECK(store.cached_counters() <= 2);
}
