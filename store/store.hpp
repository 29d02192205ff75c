#pragma once
// The only door to LevelDB. A small interface in the spirit of leveldb/db.h: reads are direct and
// thread-safe; every write is a transaction that may also hand out sequence numbers, so that
// allocating a number and persisting what uses it are one atomic step (no gaps after a crash).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace im {

// What a lookup found: the key's value, no entry for the key, or a read error (I/O, corruption).
enum class Lookup { found, missing, failed };

// A write in progress. Valid only inside the build function given to Store::commit.
class Txn {
 public:
  virtual ~Txn() = default;
  // Returns the counter's next value (last + 1) and records it in this write. A counter that
  // was never used starts at 1. Values handed out by a write that fails are handed out again.
  // An implied counter (keys.hpp: an inbox head) is recorded by the key carrying the value, which
  // the caller must put in this write.
  virtual uint64_t next(const std::string& counter_key) = 0;
  // The counter's current value as this write sees it (0 if never used).
  virtual uint64_t peek(const std::string& counter_key) = 0;
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void del(std::string_view key) = 0;
  // Deletes `key` ahead of every other write of the group commit this write joins, so a put of
  // the same key by any write of the group, queued before or after this one, survives. For
  // sweeping records that live traffic may renew meanwhile (store/retention.cpp): check with
  // get() that the record is still the stale one, then del_first().
  virtual void del_first(std::string_view key) = 0;
  // Reads the committed database (not this write's own puts); as Store::get and Store::lookup.
  virtual bool get(std::string_view key, std::string* value) = 0;
  virtual Lookup lookup(std::string_view key, std::string* value) = 0;
};

// Keys a build will use, named ahead so that a store can lock and read them for a whole group
// commit at once (PostgreSQL: one round trip for the group instead of one per key). Only a hint:
// a build may use other keys too, and LevelDB ignores it.
struct CommitHints {
  std::vector<std::string> counters;  // for Txn::next and Txn::peek
  std::vector<std::string> reads;     // for Txn::get and Txn::lookup
};

struct StoreOptions {
  std::string path;
  // true: every commit is on disk (fsync'd) before its done callback runs. false: a commit whose
  // done callback ran survives a process crash (kill -9) but not power loss.
  bool fsync = false;
  // Counter values kept in memory (least recently used dropped past this many; at least 1). A miss
  // costs a read (for an inbox head, a short scan). About 130 bytes an entry.
  size_t counter_cache_entries = 100000;
};

class Store {
 public:
  using Build = std::function<void(Txn&)>;
  using Done = std::function<void(bool ok)>;

  virtual ~Store() = default;

  // Opens (creating if missing) the database at options.path. On failure returns null and
  // sets *error.
  static std::unique_ptr<Store> open(const StoreOptions& options, std::string* error);

  // If the database holds `key`, stores its value in *value and returns true. If there is no
  // entry for key, or it cannot be read, leaves *value unchanged and returns false.
  virtual bool get(std::string_view key, std::string* value) const = 0;
  // As get(), telling a read error apart from a missing key: for lookups whose "not there"
  // leads to a write that must not happen twice (a cid's dedup record).
  virtual Lookup lookup(std::string_view key, std::string* value) const = 0;

  // Calls visit(key, value) for keys in [from, to) in ascending order (descending when
  // `reverse`), until visit returns false. An empty `to` means no upper bound. Returns false if
  // the scan stopped on a read error rather than at the end or where visit stopped it.
  virtual bool scan(std::string_view from, std::string_view to, bool reverse,
                    const std::function<bool(std::string_view, std::string_view)>& visit) const = 0;

  // Queues a write and returns at once. On the commit thread, later: runs `build` with exclusive
  // access to the counters, writes what it put atomically (together with the other writes queued
  // meanwhile: group commit), then calls done(ok), after the fsync that covers it when fsync is on.
  // Writes are applied in the order commit was called. Every build of a group commit runs, then
  // the group is written, then its dones run in order on the commit thread, before any build of a
  // later group: a done sees its own write and every earlier one. `build` must be quick, must not
  // call the store, and must only touch state it owns. A read issued before done runs may not see
  // the write.
  virtual void commit(Build build, Done done) = 0;
  // Whether this store uses CommitHints. Callers build hints only then: on LevelDB a group send
  // would otherwise build a key per member for nothing.
  virtual bool uses_hints() const { return false; }
  // The same, with the keys the build will use (CommitHints).
  virtual void commit(Build build, Done done, CommitHints hints) {
    (void)hints;
    commit(std::move(build), std::move(done));
  }

  // commit() that blocks until the write is durable and returns whether it succeeded. Only for
  // threads that may block (never an I/O or actor thread).
  bool commit_and_wait(Build build);

  // The counter's last durable value (0 if never used).
  virtual uint64_t counter(const std::string& counter_key) const = 0;

  // Writes queued and not yet taken by the commit thread (a backlog).
  virtual size_t queued_commits() const { return 0; }

  // How many counter values are cached now (at most StoreOptions::counter_cache_entries).
  virtual size_t cached_counters() const { return 0; }

  // Approximate bytes on disk.
  virtual uint64_t approximate_bytes() const = 0;

  // Called after every LevelDB write (one commit, or one group-commit batch with its fsync) with
  // how long the write took, on the writing thread and under the store's write lock: it must be
  // quick and must not call the store. Lets the server keep metrics without the store knowing any
  // metrics library. An empty function removes the observer; once this returns, the old one is
  // no longer running and will not be called again.
  using WriteObserver = std::function<void(std::chrono::microseconds elapsed)>;
  virtual void set_write_observer(WriteObserver observer) = 0;

  // How many writes (commits or group-commit batches) LevelDB refused. After the first, LevelDB
  // usually refuses every later write as well (an I/O error on its log leaves the log in an
  // unknown state), so the server stays unhealthy until it is restarted: every write's done gets
  // ok = false, the first failure is logged once as an error, and /healthz answers 503.
  virtual uint64_t write_errors() const { return 0; }

  // Whether writes work now. LevelDB: until the first refused write. PostgreSQL: false from a
  // failed write (the database unreachable or refusing) until one succeeds again.
  virtual bool healthy() const { return write_errors() == 0; }

  // Writes buffered data and stops the commit thread. Called once, at shutdown.
  virtual void flush() = 0;
};

}  // namespace im
