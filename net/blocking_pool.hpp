#pragma once
// The pool for work that may block (password hashing, file I/O, store scans, waits for a durable
// write), with a bounded queue: at most `max_jobs` jobs queued or running at once. A job beyond
// that is refused at once (the HTTP handler answers 503 unavailable), so a flood of expensive
// requests costs the server a bounded amount of memory and delays each queued request by a bounded
// amount, instead of growing a queue without limit.

#include <atomic>
#include <cstdint>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace im::net {

class BlockingPool {
 public:
  // `max_jobs` 0: no bound.
  BlockingPool(int threads, int64_t max_jobs) : pool_(static_cast<size_t>(threads)), max_jobs_(max_jobs) {}

  // Queues `job` unless `max_jobs` are already queued or running; returns whether it was queued.
  template <class Job>
  bool try_post(Job&& job) {
    auto before = jobs_.fetch_add(1, std::memory_order_relaxed);
    if (max_jobs_ > 0 && before >= max_jobs_) {
      jobs_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    boost::asio::post(pool_, [this, job = std::forward<Job>(job)]() mutable {
      struct Done {
        std::atomic<int64_t>& jobs;
        ~Done() { jobs.fetch_sub(1, std::memory_order_relaxed); }
      } done{jobs_};
      job();
    });
    return true;
  }

  // Jobs queued or running now.
  int64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

  // Waits for the queued jobs to finish and the threads to exit (shutdown).
  void join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
  const int64_t max_jobs_;
  std::atomic<int64_t> jobs_{0};
};

}  // namespace im::net
