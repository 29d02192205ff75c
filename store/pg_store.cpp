// The store on PostgreSQL (docs/STORAGE.md): the same key-value records and counters as on
// LevelDB, in two tables, shared safely by several processes.
//
// Writes: one commit thread and its connection. The writes queued meanwhile form one group, one
// transaction (pg_group.hpp: keys named ahead are locked and read at its start; each counter and
// each checked key stays locked until COMMIT, so processes sharing the database take turns); each
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
#include "store/pg_group.hpp"

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

constexpr int kScanPage = 256;  // rows a scan fetches at a time: a visit usually stops early

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
  bool uses_hints() const override { return true; }

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
      // The idle ones reached the same server: after its restart every one of them is broken
      // too, and the second attempt must not take another.
      std::lock_guard<std::mutex> lock(readers_mutex_);
      readers_.clear();
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
    for (const auto* s : pg::group_statements())
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
    pg::Group group;
    size_t refused = 0;
    std::lock_guard<std::mutex> lock(write_mutex_);
    auto started = std::chrono::steady_clock::now();
    if (connect_writer()) {
      std::set<std::string> counters, reads;
      for (const auto& p : work) {
        if (p.refused) continue;
        counters.insert(p.hints.counters.begin(), p.hints.counters.end());
        reads.insert(p.hints.reads.begin(), p.hints.reads.end());
      }
      pg::read_ahead(*writer_, counters, reads, group);
    } else {
      group.fail("not connected");
    }
    for (auto& p : work) {
      if (p.refused) {
        ++refused;
        continue;
      }
      pg::GroupTxn txn(writer_.get(), group);
      p.build(txn);
      p.build = nullptr;
    }
    bool torn = false;
    bool ok = !group.failed && pg::commit_group(*writer_, group, &torn);
    if (torn) writer_.reset();
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

}  // namespace

std::unique_ptr<Store> open_pg_store(const PgStoreOptions& options, std::string* error) {
  auto writer = pg::Conn::open(options.conninfo, options.statement_timeout_ms, error);
  if (!writer) return nullptr;
  if (!pg::migrate(*writer, error)) return nullptr;
  return std::make_unique<PgStore>(options, std::move(writer));
}

}  // namespace im
