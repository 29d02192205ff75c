// The store on PostgreSQL (docs/STORAGE.md): the same key-value records and counters as on
// LevelDB, in two tables, shared safely by several processes.
//
// Writes: one commit thread and its connection. A group of queued writes is one transaction. Each
// build runs in it: a counter's first use in the group locks its row and reads it (one round
// trip; later uses in the group count on in memory, the lock being ours until COMMIT), and a
// Txn::get/lookup locks its key (im_locked_get) and reads it, so two processes that check a key
// before writing it (a username, a cid) take turns. The group's puts, deletes and final counter
// values then go in three multi-row statements and COMMIT, pipelined in one round trip; each
// done(ok) runs after COMMIT returned. Reads: a pool of connections, one per thread reading at the
// moment, each statement with a timeout.

#include "store/pg_store.hpp"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "store/pg_conn.hpp"

namespace im {

namespace {

using pg::Params;
using pg::Result;
using pg::Statement;

const Statement kGet{"get", "SELECT v FROM im_kv WHERE k = $1"};
const Statement kScanUp{"scan_up", "SELECT k, v FROM im_kv WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3"};
const Statement kScanUpOpen{"scan_up_open", "SELECT k, v FROM im_kv WHERE k >= $1 ORDER BY k LIMIT $2"};
const Statement kScanDown{"scan_down", "SELECT k, v FROM im_kv WHERE k >= $1 AND k < $2 ORDER BY k DESC LIMIT $3"};
const Statement kScanDownOpen{"scan_down_open", "SELECT k, v FROM im_kv WHERE k >= $1 ORDER BY k DESC LIMIT $2"};
const Statement kCounter{"counter", "SELECT v FROM im_counter WHERE k = $1"};
const Statement kSize{"size", "SELECT pg_database_size(current_database())"};

// The commit thread's statements.
const Statement kLockCounter{"lock_counter",
                             "INSERT INTO im_counter AS c (k, v) VALUES ($1, 0) "
                             "ON CONFLICT (k) DO UPDATE SET v = c.v RETURNING v"};
const Statement kLockedGet{"locked_get", "SELECT im_locked_get($1, $2)"};
const Statement kSetCounters{"set_counters",
                             "UPDATE im_counter AS c SET v = u.v FROM unnest($1::bytea[], $2::int8[]) AS u(k, v) "
                             "WHERE c.k = u.k"};
const Statement kDelete{"delete", "DELETE FROM im_kv WHERE k = ANY($1::bytea[])"};
const Statement kPut{"put",
                     "INSERT INTO im_kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
                     "ON CONFLICT (k) DO UPDATE SET v = excluded.v"};
// The group's hinted keys (CommitHints), locked and read at its start: counters in key order,
// records under advisory locks taken in lock-id order, so that two processes' groups that need
// the same keys queue up instead of deadlocking. Each is one statement of the pipeline.
const Statement kCreateCounters{"create_counters",
                                "INSERT INTO im_counter (k, v) SELECT unnest($1::bytea[]), 0 ON CONFLICT (k) DO NOTHING"};
const Statement kLockCounters{"lock_counters",
                              "SELECT k, v FROM im_counter WHERE k = ANY($1::bytea[]) ORDER BY k FOR UPDATE"};
const Statement kLockKeys{"lock_keys",
                          "SELECT pg_advisory_xact_lock(id) FROM (SELECT unnest($1::int8[]) AS id ORDER BY 1) AS ids"};
const Statement kReadKeys{"read_keys", "SELECT k, v FROM im_kv WHERE k = ANY($1::bytea[])"};
const Statement kBegin{"begin", "BEGIN"};
const Statement kCommit{"commit", "COMMIT"};

constexpr int kScanPage = 256;  // rows a scan fetches at a time: a visit usually stops early

// What one group commit has done so far inside its transaction.
struct Group {
  bool begun = false;  // BEGIN was sent (by the first locking read)
  bool failed = false;
  std::string error;
  std::unordered_map<std::string, uint64_t> counters;  // locked by this transaction
  // Hinted records read at the start under their locks (nullopt: missing).
  std::unordered_map<std::string, std::optional<std::string>> read_ahead;
  std::map<std::string, std::optional<std::string>, std::less<>> writes;  // last put (or delete) per key
  std::vector<std::string> first_deletes;                                  // del_first
};

class PgStore;

class GroupTxn final : public Txn {
 public:
  GroupTxn(PgStore& store, Group& group) : store_(store), group_(group) {}
  uint64_t next(const std::string& key) override { return ++counter(key); }
  uint64_t peek(const std::string& key) override { return counter(key); }
  void put(std::string_view k, std::string_view v) override { group_.writes[std::string(k)] = std::string(v); }
  void del(std::string_view k) override { group_.writes[std::string(k)] = std::nullopt; }
  void del_first(std::string_view k) override { group_.first_deletes.emplace_back(k); }
  bool get(std::string_view key, std::string* value) override { return lookup(key, value) == Lookup::found; }
  Lookup lookup(std::string_view key, std::string* value) override;

 private:
  uint64_t& counter(const std::string& key);
  PgStore& store_;
  Group& group_;
};

class PgStore final : public Store {
 public:
  PgStore(const PgStoreOptions& options, std::unique_ptr<pg::Conn> writer)
      : options_(options), writer_(std::move(writer)) {
    committer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "im.commit");
      run_committer();
    });
  }
  ~PgStore() override { flush(); }

  bool get(std::string_view key, std::string* value) const override { return lookup(key, value) == Lookup::found; }

  Lookup lookup(std::string_view key, std::string* value) const override {
    auto r = read("get", [&](pg::Conn& c) {
      Params p;
      p.bytes(key);
      return c.run(kGet, p);
    });
    if (!r.ok()) return Lookup::failed;
    if (r.rows() == 0) return Lookup::missing;
    value->assign(r.bytes(0, 0));
    return Lookup::found;
  }

  // Pages through the range, kScanPage rows a statement, each page from where the last ended.
  bool scan(std::string_view from, std::string_view to, bool reverse,
            const std::function<bool(std::string_view, std::string_view)>& visit) const override {
    std::string lo(from), hi(to);
    const auto& statement = reverse ? (hi.empty() ? kScanDownOpen : kScanDown) : (hi.empty() ? kScanUpOpen : kScanUp);
    for (;;) {
      auto page = read("scan", [&](pg::Conn& c) {
        Params p;
        p.bytes(lo);
        if (!hi.empty()) p.bytes(hi);
        p.i64(kScanPage);
        return c.run(statement, p);
      });
      if (!page.ok()) return false;
      for (int i = 0; i < page.rows(); ++i)
        if (!visit(page.bytes(i, 0), page.bytes(i, 1))) return true;
      if (page.rows() < kScanPage) return true;
      auto last = page.bytes(page.rows() - 1, 0);
      if (reverse) hi.assign(last);
      else lo.assign(last).push_back('\0');  // the smallest key after `last`
    }
  }

  void commit(Build build, Done done) override { commit(std::move(build), std::move(done), CommitHints()); }

  void commit(Build build, Done done, CommitHints hints) override {
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      if (!stopped_) {
        // A full queue (the database is down or slower than the traffic): the write is refused
        // in order, on the commit thread, without running its build.
        bool refuse = options_.queue_max > 0 && queue_.size() >= options_.queue_max;
        if (refuse) build = nullptr;
        queue_.push_back({std::move(build), std::move(done), std::move(hints), refuse});
        queue_cv_.notify_one();
        return;
      }
    }
    std::deque<Pending> one;
    one.push_back({std::move(build), std::move(done), std::move(hints)});
    write_group(one);
  }

  // 0 also when it cannot be read: only for views (admin, a user actor's start), never to hand
  // a number out (that is GroupTxn::next's, under the row's lock).
  uint64_t counter(const std::string& key) const override {
    auto r = read("counter", [&](pg::Conn& c) {
      Params p;
      p.bytes(key);
      return c.run(kCounter, p);
    });
    return r.ok() && r.rows() == 1 ? r.u64(0, 0) : 0;
  }

  size_t queued_commits() const override {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    return queue_.size();
  }

  uint64_t approximate_bytes() const override {
    auto r = read("size", [&](pg::Conn& c) {
      Params none;
      return c.run(kSize, none);
    });
    return r.ok() && r.rows() == 1 ? r.u64(0, 0) : 0;
  }

  uint64_t write_errors() const override { return write_errors_.load(std::memory_order_relaxed); }
  bool healthy() const override { return healthy_.load(std::memory_order_relaxed); }

  void set_write_observer(WriteObserver observer) override {
    std::lock_guard<std::mutex> lock(write_mutex_);
    write_observer_ = std::move(observer);
  }

  void flush() override {
    if (!committer_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_one();
    committer_.join();
  }

  // On the commit thread, inside a group: the writer connection with the group's transaction
  // begun, or null (the group failed).
  pg::Conn* in_transaction(Group& group) {
    if (group.failed) return nullptr;
    if (!group.begun) {
      Params none;
      auto r = writer_ ? writer_->run(kBegin, none) : Result();
      if (!r.ok()) {
        fail(group, writer_ ? r.error() : "not connected");
        return nullptr;
      }
      group.begun = true;
    }
    return writer_.get();
  }

  static void fail(Group& group, std::string error) {
    if (group.failed) return;
    group.failed = true;
    group.error = std::move(error);
  }

 private:
  struct Pending {
    Build build;
    Done done;
    CommitHints hints;
    bool refused = false;  // the queue was full: done(false) without running build
  };

  // Runs `run` on a pooled reader connection and returns its result (not ok on failure). A
  // connection found broken (the database restarted) is dropped and the read tried once more on a
  // new one: reads change nothing, so trying again is always safe.
  template <class Run>
  Result read(const char* what, Run&& run) const {
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto conn = take_reader();
      if (!conn) return Result();
      Result r = run(*conn);
      if (r.ok() || !conn->broken()) {
        if (!r.ok()) spdlog::warn("postgres: {} failed: {}", what, r.error());
        give_back(std::move(conn));
        return r;
      }
      spdlog::info("postgres: a reader connection broke ({}); reconnecting", r.error());
    }
    return Result();
  }

  std::unique_ptr<pg::Conn> take_reader() const {
    {
      std::lock_guard<std::mutex> lock(readers_mutex_);
      if (!readers_.empty()) {
        auto conn = std::move(readers_.back());
        readers_.pop_back();
        return conn;
      }
    }
    std::string error;
    auto conn = pg::Conn::open(options_.conninfo, options_.statement_timeout_ms, &error);
    if (!conn) spdlog::warn("postgres: cannot open a reader connection: {}", error);
    return conn;
  }

  void give_back(std::unique_ptr<pg::Conn> conn) const {
    std::lock_guard<std::mutex> lock(readers_mutex_);
    readers_.push_back(std::move(conn));
  }

  void run_committer() {
    std::deque<Pending> work;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(queue_mutex_);
        // While unhealthy, wake up now and then to see whether the database is back.
        queue_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_) {
          stopped_ = true;
          return;
        }
        work.swap(queue_);
      }
      if (work.empty()) {
        if (!healthy()) probe();
        continue;
      }
      write_group(work);
      work.clear();
    }
  }

  // Reconnects the writer if it is gone or broken, and prepares what a pipeline sends (a pipeline
  // cannot prepare); returns whether it is usable.
  bool connect_writer() {
    if (!writer_ || writer_->broken()) {
      std::string error;
      writer_ = pg::Conn::open(options_.conninfo, options_.statement_timeout_ms, &error);
      if (!writer_) {
        note_failure("cannot connect: " + error);
        return false;
      }
    }
    for (const auto* s : {&kLockCounter, &kLockedGet, &kSetCounters, &kDelete, &kPut, &kBegin, &kCommit,
                          &kCreateCounters, &kLockCounters, &kLockKeys, &kReadKeys})
      if (!writer_->prepare(*s)) {
        note_failure("cannot prepare statements: " + writer_->error());
        writer_.reset();
        return false;
      }
    return true;
  }

  void probe() {
    if (!connect_writer()) return;
    auto r = writer_->exec("SELECT 1");
    if (r.ok()) note_success();
    else note_failure(r.error());
  }

  void note_failure(const std::string& error) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    if (healthy_.exchange(false))
      spdlog::error("postgres: cannot write ({}); sends answer unavailable and /healthz 503 until it works again",
                    error);
  }

  void note_success() {
    if (!healthy_.exchange(true)) spdlog::warn("postgres: writing works again");
  }

  // One transaction for every write of `work`, then their dones in order.
  void write_group(std::deque<Pending>& work) {
    Group group;
    size_t refused = 0;
    std::lock_guard<std::mutex> lock(write_mutex_);
    auto started = std::chrono::steady_clock::now();
    if (!connect_writer()) fail(group, "not connected");
    else read_ahead(work, group);
    for (auto& p : work) {
      if (p.refused) {
        ++refused;
        continue;
      }
      GroupTxn txn(*this, group);
      p.build(txn);
      p.build = nullptr;
    }
    bool ok = !group.failed && finish(group);
    if (!ok) {
      if (writer_ && !writer_->broken() && group.begun) writer_->exec("ROLLBACK");
      note_failure(group.error);
    } else {
      note_success();
      if (write_observer_)
        write_observer_(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started));
    }
    if (refused > 0) {
      write_errors_.fetch_add(refused, std::memory_order_relaxed);
      spdlog::debug("postgres: {} writes refused, the queue held {}", refused, options_.queue_max);
    }
    // As on LevelDB: each done with nothing of the earlier writes still alive.
    for (auto& p : work) {
      auto done = std::move(p.done);
      p.done = nullptr;
      if (done) done(ok && !p.refused);
    }
  }

  // Begins the group's transaction, and locks and reads every hinted counter and record, in one
  // pipeline: without hints, each first use of a key in a build would cost a round trip.
  void read_ahead(const std::deque<Pending>& work, Group& group) {
    std::set<std::string> counter_set, read_set;
    for (const auto& p : work) {
      if (p.refused) continue;
      counter_set.insert(p.hints.counters.begin(), p.hints.counters.end());
      read_set.insert(p.hints.reads.begin(), p.hints.reads.end());
    }
    if (counter_set.empty() && read_set.empty()) return;
    std::vector<std::string_view> counter_keys(counter_set.begin(), counter_set.end());
    std::vector<std::string_view> read_keys(read_set.begin(), read_set.end());
    std::vector<uint64_t> lock_ids;
    for (auto k : read_keys) lock_ids.push_back(static_cast<uint64_t>(pg::lock_id(k)));
    auto& c = *writer_;
    if (PQenterPipelineMode(c.get()) != 1) return fail(group, c.error());
    Params none, counters, locks, reads;
    bool queued = c.send(kBegin, none);
    group.begun = queued;
    if (!counter_keys.empty()) {
      counters.bytes(pg::bytea_array(counter_keys));
      queued = queued && c.send(kCreateCounters, counters) && c.send(kLockCounters, counters);
    }
    if (!read_keys.empty()) {
      locks.bytes(pg::int8_array(lock_ids));
      reads.bytes(pg::bytea_array(read_keys));
      queued = queued && c.send(kLockKeys, locks) && c.send(kReadKeys, reads);
    }
    queued = queued && PQpipelineSync(c.get()) == 1;
    std::string error = queued ? "" : c.error();
    // Results in the order sent; the rows of the two reads are recognised by their statement.
    int statement = 0;
    const int lock_counters = counter_keys.empty() ? -1 : 2, read_records = read_keys.empty() ? -1 : (counter_keys.empty() ? 2 : 4);
    if (queued) {
      for (;;) {
        Result r(PQgetResult(c.get()));
        if (!r.get()) {
          if (c.broken()) {
            if (error.empty()) error = c.error();
            break;
          }
          ++statement;
          continue;
        }
        if (PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC) break;
        if (!r.ok()) {
          if (error.empty()) error = r.error();
          continue;
        }
        if (statement == lock_counters)
          for (int i = 0; i < r.rows(); ++i) group.counters[std::string(r.bytes(i, 0))] = r.u64(i, 1);
        if (statement == read_records)
          for (int i = 0; i < r.rows(); ++i) group.read_ahead[std::string(r.bytes(i, 0))] = std::string(r.bytes(i, 1));
      }
    }
    if (PQexitPipelineMode(c.get()) != 1) {
      if (error.empty()) error = "a pipeline was left half read";
    }
    if (!error.empty()) return fail(group, error);
    for (auto k : read_keys) group.read_ahead.try_emplace(std::string(k), std::nullopt);
  }

  // Sends the group's writes and COMMIT in one pipeline; true when COMMIT succeeded.
  bool finish(Group& group) {
    std::vector<std::string_view> counter_keys, put_keys, put_values, delete_keys;
    std::vector<uint64_t> counter_values;
    for (const auto& [k, v] : group.counters) {
      counter_keys.push_back(k);
      counter_values.push_back(v);
    }
    for (const auto& k : group.first_deletes) delete_keys.push_back(k);
    std::vector<std::string_view> later_deletes;
    for (const auto& [k, v] : group.writes) {
      if (v) {
        put_keys.push_back(k);
        put_values.push_back(*v);
      } else {
        later_deletes.push_back(k);
      }
    }
    // del_first keys go first, then the group's own deletes: a key the group both deletes and puts
    // ends as its last write says, and writes only have that one (group.writes).
    delete_keys.insert(delete_keys.end(), later_deletes.begin(), later_deletes.end());
    if (!group.begun && counter_keys.empty() && put_keys.empty() && delete_keys.empty()) return true;

    auto& c = *writer_;
    if (PQenterPipelineMode(c.get()) != 1) {
      fail(group, c.error());
      return false;
    }
    bool queued = true;
    Params none;
    if (!group.begun) {
      queued = queued && c.send(kBegin, none);
      group.begun = queued;  // a BEGIN was sent: a failure must end with ROLLBACK
    }
    if (!counter_keys.empty()) {
      Params p;
      p.bytes(pg::bytea_array(counter_keys)).bytes(pg::int8_array(counter_values));
      queued = queued && c.send(kSetCounters, p);
    }
    if (!delete_keys.empty()) {
      Params p;
      p.bytes(pg::bytea_array(delete_keys));
      queued = queued && c.send(kDelete, p);
    }
    if (!put_keys.empty()) {
      Params p;
      p.bytes(pg::bytea_array(put_keys)).bytes(pg::bytea_array(put_values));
      queued = queued && c.send(kPut, p);
    }
    Params commit_params;
    queued = queued && c.send(kCommit, commit_params);
    queued = queued && PQpipelineSync(c.get()) == 1;
    bool ok = queued;
    std::string error = queued ? "" : c.error();
    // Every result of the pipeline, up to its sync: each statement's, then a null between them.
    if (queued) {
      for (;;) {
        Result r(PQgetResult(c.get()));
        if (!r.get()) {
          if (c.broken()) {  // the outcome is unknown: reported as a failure, the resend dedups
            ok = false;
            break;
          }
          continue;
        }
        auto status = PQresultStatus(r.get());
        if (status == PGRES_PIPELINE_SYNC) break;
        if (!r.ok()) {
          if (ok) error = r.error();
          ok = false;
        }
      }
    }
    if (!ok) fail(group, error.empty() ? c.error() : error);
    // A pipeline left half sent cannot be left: the connection is dropped, and the next group
    // opens a new one (the server rolls the transaction back when the session ends).
    if (PQexitPipelineMode(c.get()) != 1) writer_.reset();
    return ok;
  }

  PgStoreOptions options_;
  std::mutex write_mutex_;
  WriteObserver write_observer_;  // guarded by write_mutex_
  std::unique_ptr<pg::Conn> writer_;  // the commit thread's
  mutable std::mutex readers_mutex_;
  mutable std::vector<std::unique_ptr<pg::Conn>> readers_;  // idle reader connections
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread committer_;
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<bool> healthy_{true};
};

uint64_t& GroupTxn::counter(const std::string& key) {
  auto it = group_.counters.find(key);
  if (it != group_.counters.end()) return it->second;
  uint64_t value = 0;
  if (auto* c = store_.in_transaction(group_)) {
    Params p;
    p.bytes(key);
    auto r = c->run(kLockCounter, p);
    if (r.ok() && r.rows() == 1) value = r.u64(0, 0);
    else PgStore::fail(group_, r.error());
  }
  return group_.counters.emplace(key, value).first->second;
}

Lookup GroupTxn::lookup(std::string_view key, std::string* value) {
  if (auto it = group_.writes.find(key); it != group_.writes.end()) {
    if (!it->second) return Lookup::missing;
    *value = *it->second;
    return Lookup::found;
  }
  if (auto it = group_.read_ahead.find(std::string(key)); it != group_.read_ahead.end()) {
    if (!it->second) return Lookup::missing;
    *value = *it->second;
    return Lookup::found;
  }
  auto* c = store_.in_transaction(group_);
  if (!c) return Lookup::failed;
  Params p;
  p.bytes(key).i64(pg::lock_id(key));
  auto r = c->run(kLockedGet, p);
  if (!r.ok() || r.rows() != 1) {
    PgStore::fail(group_, r.error());
    return Lookup::failed;
  }
  if (r.null(0, 0)) return Lookup::missing;
  value->assign(r.bytes(0, 0));
  return Lookup::found;
}

}  // namespace

std::unique_ptr<Store> open_pg_store(const PgStoreOptions& options, std::string* error) {
  auto writer = pg::Conn::open(options.conninfo, options.statement_timeout_ms, error);
  if (!writer) return nullptr;
  if (!pg::migrate(*writer, error)) return nullptr;
  return std::make_unique<PgStore>(options, std::move(writer));
}

}  // namespace im
