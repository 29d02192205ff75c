#pragma once
// The background sweeper: deletes expired inbox events and dedup records (store/retention.hpp)
// every --sweep-interval-s, and once shortly after start, on a thread of its own (never an I/O or
// actor thread; it blocks on the store). Also the start-up cleanup of upload temp files.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "protocol/options.hpp"

namespace im {

class Store;
struct Counters;

// Deletes what an upload interrupted by a crash left in `<data_dir>/files` (an upload writes
// `<id>.tmp`, renames it to `<id>`, then records keys::file(id)): every `*.tmp`, and every `<id>`
// (32 hex digits) the store has no record of, which no url can reach. A record that cannot be read
// keeps its file. Call before serving, when no upload can be running. Returns how many it
// deleted; touches nothing else.
size_t remove_upload_leftovers(const std::string& data_dir, const Store& store);

class Sweeper {
 public:
  // The first sweep runs this long after start (or after the interval, if shorter), so that it
  // does not compete with the start itself.
  static constexpr std::chrono::milliseconds kFirstSweepDelay{1000};

  Sweeper(const ServerOptions& options, Store& store, Counters& counters);
  ~Sweeper();  // stop()
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Starts the thread, unless options.sweep_interval_s is 0.
  void start();
  // Cancels a sweep in progress (between chunks) and joins the thread. Idempotent. Must run
  // before the store is flushed.
  void stop();

  // One sweep of both kinds, now, on the calling thread (which must be allowed to block).
  void sweep_once();

 private:
  void run();

  const ServerOptions options_;
  Store& store_;
  Counters& counters_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
};

}  // namespace im
