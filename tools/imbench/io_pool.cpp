#include "io_pool.hpp"

#include <algorithm>

namespace imbench {

IoPool::IoPool(int threads) {
  int n = std::max(1, threads);
  for (int i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
  for (auto& ctx : contexts_) threads_.emplace_back([c = ctx.get()] { c->run(); });
}

IoPool::~IoPool() { stop(); }

boost::asio::io_context& IoPool::next() { return *contexts_[next_++ % contexts_.size()]; }

void IoPool::stop() {
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace imbench
