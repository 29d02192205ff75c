#pragma once
// A real LevelDB store in a fresh temporary directory, removed when the test ends.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "store/store.hpp"

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
    store = im::Store::open({dir, fsync}, &error);
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
