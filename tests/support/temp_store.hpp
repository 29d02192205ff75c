#pragma once
// A real store in a fresh temporary directory, removed when the test ends: LevelDB, or on the
// PostgreSQL pass (support/postgres.hpp) a fresh database of the private server.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "store/pg_store.hpp"
#include "store/store.hpp"
#include "support/postgres.hpp"

namespace imtest {

struct TempStore {
  std::string dir;
  std::unique_ptr<im::Store> store;

  explicit TempStore(bool fsync = false) {
    std::string pattern = (std::filesystem::temp_directory_path() / "imstore-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()));
    dir = pattern;
    open(fsync);
  }
  void open(bool fsync) {
    std::string error;
    if (auto postgres = postgres_for(dir); !postgres.empty()) store = im::open_pg_store({postgres}, &error);
    else store = im::Store::open({dir, fsync}, &error);
    REQUIRE_MESSAGE(store, error);
  }
  // Closes the store (every queued commit is written first) and opens it again.
  void reopen(bool fsync = false) {
    store.reset();
    open(fsync);
  }
  ~TempStore() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

}  // namespace imtest
