// The threads that `floor --rate --relay-threads N` puts between its relay's reads and its writes
// (scenario_floor_paced.cpp). Each takes what the one before handed over (a lock and a condition
// variable) and hands it on; the last hands it back to the relay's event loop through an eventfd,
// which wakes the loop's epoll_wait. A stage with nothing to do sleeps, so every hand-over that
// finds it idle is a wake-up.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "floor_loop.hpp"
#include "loopback.hpp"

namespace imbench::paced_floor {

// A send frame that the relay read from user `from`, on its way to being answered.
struct Relayed {
  uint32_t from = 0;
  FrameFields frame;
};

class RelayChain {
 public:
  explicit RelayChain(int threads);
  ~RelayChain();  // stops and joins the threads; what is still on its way is dropped
  RelayChain(const RelayChain&) = delete;
  RelayChain& operator=(const RelayChain&) = delete;

  // Readable when something came back through every thread.
  int wake_fd() const { return wake_.get(); }
  // The relay thread: what one turn read goes to the first thread at once.
  void hand_over(std::vector<Relayed>& items);
  // The relay thread, when wake_fd() is readable: what came back.
  std::vector<Relayed> take_returned();

 private:
  struct Stage {
    std::mutex mutex;
    std::condition_variable ready;
    std::vector<Relayed> items;
    bool stopping = false;
  };

  void hand_to(size_t index, std::vector<Relayed>& items);
  void run(size_t index);
  void stop();

  Fd wake_;
  std::vector<Stage> stages_;
  std::mutex returned_mutex_;
  std::vector<Relayed> returned_;
  std::vector<std::thread> threads_;
};

}  // namespace imbench::paced_floor
