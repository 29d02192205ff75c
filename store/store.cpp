#include "store/store.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <future>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <spdlog/spdlog.h>

#include "store/keys.hpp"

namespace im {

namespace {

std::string encode_u64(uint64_t v) {
  std::string s;
  keys::put_u64(s, v);
  return s;
}

// Counter values that a group of writes has handed out but not yet made durable.
using CounterOverlay = std::unordered_map<std::string, uint64_t>;
// Implied counters (keys.hpp) in a group of writes that deletes keys carrying their values.
struct ImpliedHeads {
  std::unordered_set<std::string> to_record;  // the key of the current value was deleted
  // Values looked up for the check, uncached: a sweep deletes many keys of each user it visits,
  // and each user's head is read once per group.
  std::unordered_map<std::string, uint64_t> looked_up;
};

class LevelStore;

// Counter values (durable, or just published by the commit thread), least recently used dropped
// past `capacity` entries. A counter key is one per user (inbox head), conversation and group, so
// without a bound the cache grows with every user and conversation ever touched. Dropping an entry
// is always safe: the database holds every published value (the counter's key, or for an implied
// counter the key carrying it), and the next use loads it again. Not thread-safe: the store
// guards it with its counters lock.
class CounterCache {
 public:
  explicit CounterCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

  // The value, marking it recently used; null if not cached.
  uint64_t* find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  // The value without marking it used (sweeps look at many heads once).
  const uint64_t* peek(const std::string& key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  void put(const std::string& key, uint64_t value) {
    if (auto* cached = find(key)) {
      *cached = value;
      return;
    }
    order_.emplace_front(key, value);
    index_.emplace(std::string_view(order_.front().first), order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(std::string_view(order_.back().first));
      order_.pop_back();
    }
  }
  size_t size() const { return order_.size(); }

 private:
  using Entry = std::pair<std::string, uint64_t>;
  size_t capacity_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into order_
};

class BatchTxn final : public Txn {
 public:
  BatchTxn(LevelStore& store, CounterOverlay& pending, ImpliedHeads& implied, leveldb::WriteBatch& batch,
           leveldb::WriteBatch& front)
      : store_(store), pending_(pending), implied_(implied), batch_(batch), front_(front) {}
  uint64_t next(const std::string& key) override;
  uint64_t peek(const std::string& key) override;
  void put(std::string_view k, std::string_view v) override {
    batch_.Put(leveldb::Slice(k.data(), k.size()), leveldb::Slice(v.data(), v.size()));
  }
  void del(std::string_view k) override {
    keep_implied_counter(k);
    batch_.Delete(leveldb::Slice(k.data(), k.size()));
  }
  void del_first(std::string_view k) override {
    keep_implied_counter(k);
    front_.Delete(leveldb::Slice(k.data(), k.size()));
  }
  bool get(std::string_view key, std::string* value) override;
  Lookup lookup(std::string_view key, std::string* value) override;

 private:
  // Deleting the key that carries an implied counter's current value would lose the value on
  // restart: the counter is written with this group then.
  void keep_implied_counter(std::string_view k);

  LevelStore& store_;
  CounterOverlay& pending_;
  ImpliedHeads& implied_;
  leveldb::WriteBatch& batch_;
  leveldb::WriteBatch& front_;  // del_first: applied before batch_
};

class LevelStore final : public Store {
 public:
  LevelStore(std::unique_ptr<leveldb::DB> db, std::unique_ptr<const leveldb::FilterPolicy> filter,
             std::unique_ptr<leveldb::Cache> cache, bool fsync, size_t counter_cache_entries)
      : filter_(std::move(filter)), cache_(std::move(cache)), db_(std::move(db)), fsync_(fsync),
        counters_(counter_cache_entries) {
    committer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "im.commit");  // as top -H and imbench show it
      run_committer();
    });
  }
  ~LevelStore() override { flush(); }

  bool get(std::string_view key, std::string* value) const override {
    return lookup(key, value) == Lookup::found;
  }

  Lookup lookup(std::string_view key, std::string* value) const override {
    std::string out;
    auto s = db_->Get(leveldb::ReadOptions(), leveldb::Slice(key.data(), key.size()), &out);
    if (s.IsNotFound()) return Lookup::missing;
    if (!s.ok()) {
      spdlog::error("store: read failed: {}", s.ToString());
      return Lookup::failed;
    }
    *value = std::move(out);
    return Lookup::found;
  }

  bool scan(std::string_view from, std::string_view to, bool reverse,
            const std::function<bool(std::string_view, std::string_view)>& visit) const override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    leveldb::Slice lo(from.data(), from.size()), hi(to.data(), to.size());
    auto in_range = [&](const leveldb::Slice& k) {
      return k.compare(lo) >= 0 && (to.empty() || k.compare(hi) < 0);
    };
    if (!reverse) {
      for (it->Seek(lo); it->Valid() && in_range(it->key()); it->Next())
        if (!visit(sv(it->key()), sv(it->value()))) return true;
      return it->status().ok();  // an iterator that hits a read error just stops being valid
    }
    if (to.empty()) it->SeekToLast();
    else {
      it->Seek(hi);
      if (it->Valid()) it->Prev();
      else it->SeekToLast();
    }
    for (; it->Valid() && in_range(it->key()); it->Prev())
      if (!visit(sv(it->key()), sv(it->value()))) return true;
    return it->status().ok();
  }

  using Store::commit;  // the hinted form: LevelDB reads counters and keys in memory or cache
  void commit(Build build, Done done) override {
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      if (!stopped_) {
        queue_.push_back({std::move(build), std::move(done)});
        queue_cv_.notify_one();
        return;
      }
    }
    // After flush() (a straggler at shutdown): write it here, on the caller's thread.
    std::deque<Pending> one;
    one.push_back({std::move(build), std::move(done)});
    write_group(one);
  }

  // Cached like current_counter: an implied counter's load is a scan, and a user actor asks at
  // every start. Safe from any thread: a value loaded here is at most the one the commit thread
  // publishes next, under the same lock.
  uint64_t counter(const std::string& key) const override { return current_counter(key); }

  size_t queued_commits() const override {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    return queue_.size();
  }

  size_t cached_counters() const override {
    std::lock_guard<std::mutex> lock(counters_mutex_);
    return counters_.size();
  }

  uint64_t approximate_bytes() const override {
    uint64_t size = 0;
    // A Range holds Slices: the limit's bytes must outlive it (a temporary here was read after
    // it was freed, as AddressSanitizer showed on GET /admin/status).
    const std::string limit(32, '\xFF');
    leveldb::Range all("", limit);
    db_->GetApproximateSizes(&all, 1, &size);
    return size;
  }

  uint64_t write_errors() const override { return write_errors_.load(std::memory_order_relaxed); }

  void set_write_observer(WriteObserver observer) override {
    std::lock_guard<std::mutex> lock(write_mutex_);
    write_observer_ = std::move(observer);
  }

  void flush() override {
    if (committer_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        stopping_ = true;
      }
      queue_cv_.notify_one();
      committer_.join();
    }
  }

  // The durable (or, during a write, just-published) value of a counter, loading it on first use.
  uint64_t current_counter(const std::string& key) const {
    std::lock_guard<std::mutex> lock(counters_mutex_);
    if (auto* cached = counters_.find(key)) return *cached;
    auto v = load_counter(key);
    counters_.put(key, v);
    return v;
  }

  // current_counter without keeping a loaded value: for a sweep's deletes, which look at the
  // heads of many users once.
  uint64_t current_counter_uncached(const std::string& key) const {
    std::lock_guard<std::mutex> lock(counters_mutex_);
    auto* cached = counters_.peek(key);
    return cached ? *cached : load_counter(key);
  }

 private:
  struct Pending {
    Build build;
    Done done;
  };

  static std::string_view sv(const leveldb::Slice& s) { return {s.data(), s.size()}; }

  // The stored counter, or for an implied one (keys.hpp) the larger of that and its newest key,
  // both read from one snapshot. A read error ends the process: guessing low would hand numbers
  // out again and overwrite what they keyed (messages, inbox events).
  uint64_t load_counter(const std::string& key) const {
    struct Snapshot {
      leveldb::DB& db;
      const leveldb::Snapshot* snapshot;
      ~Snapshot() { db.ReleaseSnapshot(snapshot); }
    } snap{*db_, db_->GetSnapshot()};
    leveldb::ReadOptions options;
    options.snapshot = snap.snapshot;
    std::string value;
    auto s = db_->Get(options, key, &value);
    if (!s.ok() && !s.IsNotFound()) fail_read("counter", s);
    uint64_t stored = s.ok() && value.size() == 8 ? keys::get_u64(value) : 0;
    if (!keys::is_implied_counter(key)) return stored;
    return std::max(stored, newest_carried(options, keys::implying_prefix(key)));
  }

  // The value carried by the last key of the form `prefix` + 8 bytes; 0 if there is none.
  // LevelDB skips deleted keys inside Prev(), so a user whose whole inbox was just deleted costs a
  // walk over those deletions (and their neighbours') until compaction drops them; retention
  // keeps that rare, and the result is cached.
  uint64_t newest_carried(const leveldb::ReadOptions& options, const std::string& prefix) const {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(options));
    it->Seek(keys::prefix_end(prefix));
    if (it->Valid()) it->Prev();
    else it->SeekToLast();
    for (; it->Valid() && it->key().starts_with(prefix); it->Prev())
      if (it->key().size() == prefix.size() + 8) return keys::get_u64(sv(it->key()).substr(prefix.size()));
    if (!it->status().ok()) fail_read("inbox head", it->status());
    return 0;
  }

  [[noreturn]] static void fail_read(const char* what, const leveldb::Status& status) {
    spdlog::critical("store: cannot read a {} ({}); stopping rather than hand out a number twice", what,
                     status.ToString());
    std::abort();
  }

  // Under write_mutex_.
  void observe_write(std::chrono::steady_clock::time_point started) {
    if (write_observer_)
      write_observer_(std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started));
  }

  void publish(const CounterOverlay& pending) {
    std::lock_guard<std::mutex> lock(counters_mutex_);
    for (const auto& [k, v] : pending) counters_.put(k, v);
  }

  // Group commit: every write queued while the previous one ran goes into one WriteBatch and one
  // LevelDB write (and, with fsync, one fsync), so the fixed cost of a write (the log append, the
  // writer lock, the fsync) is shared instead of paid per message, and actor threads never wait
  // for the disk or for each other.
  void run_committer() {
    leveldb::WriteBatch batch;  // reused: Clear() keeps its buffer
    std::deque<Pending> work;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(queue_mutex_);
        queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_) {
          stopped_ = true;
          return;
        }
        work.swap(queue_);
      }
      write_group(work, &batch);
      work.clear();
    }
  }

  // Builds every write of `work` into one batch, writes it, then runs their done callbacks.
  void write_group(std::deque<Pending>& work, leveldb::WriteBatch* reuse = nullptr) {
    leveldb::WriteBatch local;
    auto& batch = reuse ? *reuse : local;
    batch.Clear();
    leveldb::WriteBatch front;  // del_first deletes, rare (sweeps): applied before `batch`
    CounterOverlay pending;
    ImpliedHeads implied;
    bool ok;
    {
      std::lock_guard<std::mutex> lock(write_mutex_);
      for (auto& p : work) {
        BatchTxn txn(*this, pending, implied, batch, front);
        p.build(txn);
        p.build = nullptr;
      }
      // Each counter once, at its final value: a user who gets several events in one group
      // commit (a busy group, a burst of messages) costs one counter write, not one per event.
      // An implied counter (an inbox head) is carried by the keys just written, unless this group
      // deleted the key that carries it.
      for (const auto& [key, value] : pending)
        if (!keys::is_implied_counter(key) || implied.to_record.count(key)) batch.Put(key, encode_u64(value));
      for (const auto& key : implied.to_record)
        if (!pending.count(key)) batch.Put(key, encode_u64(current_counter(key)));
      leveldb::WriteOptions options;
      options.sync = fsync_;
      static const size_t kEmptyBatchBytes = leveldb::WriteBatch().ApproximateSize();
      bool has_front = front.ApproximateSize() > kEmptyBatchBytes;
      if (!has_front && batch.ApproximateSize() <= kEmptyBatchBytes) {
        ok = true;  // nothing to write: commits made only for their done callbacks
      } else {
        auto started = std::chrono::steady_clock::now();
        leveldb::Status status;
        if (has_front) {
          front.Append(batch);
          status = db_->Write(options, &front);
        } else {
          status = db_->Write(options, &batch);
        }
        ok = status.ok();
        observe_write(started);
        if (!ok && write_errors_.fetch_add(1) == 0)
          spdlog::error("store: a write failed ({}); later writes are likely to fail too: /healthz answers 503 "
                        "and the server must be restarted (each further failure is only counted in "
                        "imserver_store_write_errors_total)",
                        status.ToString());
      }
      if (ok) publish(pending);
    }
    // Each done runs with nothing of the earlier writes still alive: whoever waits for the last
    // one (Runtime::shutdown) may tear down what their callbacks captured as soon as it returns.
    for (auto& p : work) {
      auto done = std::move(p.done);
      p.done = nullptr;
      if (done) done(ok);
    }
  }

  // Declared before db_ so that they outlive it.
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<leveldb::DB> db_;
  bool fsync_;
  std::mutex write_mutex_;  // one writer at a time: counters are handed out in write order
  WriteObserver write_observer_;  // guarded by write_mutex_
  mutable std::mutex counters_mutex_;
  mutable CounterCache counters_;  // guarded by counters_mutex_
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;  // flush() asked the committer to finish the queue and exit
  bool stopped_ = false;   // the committer exited: commit() writes inline
  std::thread committer_;
  std::atomic<uint64_t> write_errors_{0};
};

uint64_t BatchTxn::next(const std::string& key) {
  uint64_t v = peek(key) + 1;
  pending_[key] = v;  // written once per batch by write_group
  return v;
}

bool BatchTxn::get(std::string_view key, std::string* value) { return store_.get(key, value); }

Lookup BatchTxn::lookup(std::string_view key, std::string* value) { return store_.lookup(key, value); }

void BatchTxn::keep_implied_counter(std::string_view k) {
  uint64_t carried = 0;
  auto counter = keys::implied_counter(k, &carried);
  if (counter.empty() || implied_.to_record.count(counter)) return;
  uint64_t head;
  if (auto pending = pending_.find(counter); pending != pending_.end()) {
    head = pending->second;
  } else {
    auto looked_up = implied_.looked_up.find(counter);
    if (looked_up == implied_.looked_up.end())
      looked_up = implied_.looked_up.emplace(counter, store_.current_counter_uncached(counter)).first;
    head = looked_up->second;
  }
  if (carried >= head) implied_.to_record.insert(std::move(counter));
}

uint64_t BatchTxn::peek(const std::string& key) {
  auto it = pending_.find(key);
  if (it != pending_.end()) return it->second;
  return store_.current_counter(key);
}

}  // namespace

bool Store::commit_and_wait(Build build) {
  auto result = std::make_shared<std::promise<bool>>();
  auto future = result->get_future();
  commit(std::move(build), [result](bool ok) { result->set_value(ok); });
  return future.get();
}

std::unique_ptr<Store> Store::open(const StoreOptions& options, std::string* error) {
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  db_options.write_buffer_size = 16 << 20;
  // Most lookups on the send path miss (a new cid has no dedup record; a sender is rarely
  // blocked): Bloom filters answer those without reading table blocks from disk.
  std::unique_ptr<const leveldb::FilterPolicy> filter(leveldb::NewBloomFilterPolicy(10));
  std::unique_ptr<leveldb::Cache> cache(leveldb::NewLRUCache(32 << 20));
  db_options.filter_policy = filter.get();
  db_options.block_cache = cache.get();
  // LevelDB's default Env (PosixEnv, leveldb 1.23) runs every compaction on one background
  // thread, which the first Schedule starts. Starting it here with a task that names it keeps
  // compactions apart from commits in per-thread CPU figures; otherwise it would inherit the name
  // of whichever thread first wrote enough to need one.
  static std::once_flag named;
  std::call_once(named, [] {
    leveldb::Env::Default()->Schedule([](void*) { pthread_setname_np(pthread_self(), "im.leveldb"); }, nullptr);
  });
  leveldb::DB* raw = nullptr;
  auto s = leveldb::DB::Open(db_options, options.path, &raw);
  if (!s.ok()) {
    if (error) *error = s.ToString();
    return nullptr;
  }
  return std::make_unique<LevelStore>(std::unique_ptr<leveldb::DB>(raw), std::move(filter), std::move(cache),
                                      options.fsync, options.counter_cache_entries);
}

}  // namespace im
