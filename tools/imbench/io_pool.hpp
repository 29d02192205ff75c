// A few io_context threads, each running its own io_context: a connection lives on one of them
// for its whole life, so its handlers never run concurrently and need no strand.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace imbench {

class IoPool {
 public:
  explicit IoPool(int threads);
  ~IoPool();  // stop() and join
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  // Round robin over the contexts; call from one thread (the scenario's main thread).
  boost::asio::io_context& next();
  boost::asio::io_context& at(size_t i) { return *contexts_[i % contexts_.size()]; }
  size_t size() const { return contexts_.size(); }
  // Stops every context (pending handlers are dropped) and joins the threads. Idempotent.
  void stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  size_t next_ = 0;
};

}  // namespace imbench
