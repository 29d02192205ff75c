#include "relay_chain.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace imbench::paced_floor {

RelayChain::RelayChain(int threads)
    : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"), stages_(static_cast<size_t>(threads)) {
  try {
    for (size_t i = 0; i < stages_.size(); ++i) threads_.emplace_back([this, i] { run(i); });
  } catch (...) {
    stop();  // the threads already running must be joined before they are destroyed
    throw;
  }
}

RelayChain::~RelayChain() { stop(); }

void RelayChain::stop() {
  for (auto& stage : stages_) {
    std::lock_guard<std::mutex> lock(stage.mutex);
    stage.stopping = true;
    stage.ready.notify_one();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void RelayChain::hand_over(std::vector<Relayed>& items) { hand_to(0, items); }

std::vector<Relayed> RelayChain::take_returned() {
  uint64_t count;
  (void)!::read(wake_.get(), &count, sizeof count);  // before taking: a later hand-back wakes again
  std::vector<Relayed> items;
  std::lock_guard<std::mutex> lock(returned_mutex_);
  items.swap(returned_);
  return items;
}

void RelayChain::hand_to(size_t index, std::vector<Relayed>& items) {
  if (items.empty()) return;
  auto& stage = stages_[index];
  std::lock_guard<std::mutex> lock(stage.mutex);
  stage.items.insert(stage.items.end(), items.begin(), items.end());
  stage.ready.notify_one();
  items.clear();
}

void RelayChain::run(size_t index) {
  auto& stage = stages_[index];
  std::vector<Relayed> items;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(stage.mutex);
      stage.ready.wait(lock, [&] { return stage.stopping || !stage.items.empty(); });
      if (stage.stopping) return;
      items.swap(stage.items);
    }
    if (index + 1 < stages_.size()) {
      hand_to(index + 1, items);
      continue;
    }
    bool wake;
    {
      std::lock_guard<std::mutex> lock(returned_mutex_);
      wake = returned_.empty();
      returned_.insert(returned_.end(), items.begin(), items.end());
    }
    items.clear();
    uint64_t one = 1;
    if (wake) (void)!::write(wake_.get(), &one, sizeof one);
  }
}

}  // namespace imbench::paced_floor
