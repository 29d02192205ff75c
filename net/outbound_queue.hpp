#pragma once
// The bounded queue of frames waiting to be written on one raw TCP socket. Used on the session's
// strand only.

#include <cassert>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>

namespace im::net {

class OutboundQueue {
 public:
  using Payload = std::shared_ptr<const std::string>;

  explicit OutboundQueue(size_t limit) : limit_(limit) {}

  // False when the queue is full: the client is not keeping up.
  bool push(Payload payload) {
    if (frames_.size() >= limit_) return false;
    frames_.push_back(std::move(payload));
    return true;
  }
  // The close frame: queued behind the others even when the queue is full.
  void push_last(Payload payload) { frames_.push_back(std::move(payload)); }

  bool empty() const { return frames_.empty(); }
  size_t size() const { return frames_.size(); }
  const std::string& at(size_t i) const { return *frames_[i]; }
  // Drops the first `n` frames (written); n <= size().
  void pop(size_t n) {
    assert(n <= frames_.size());
    frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  // Drops every frame after the first `keep` (those being written).
  void truncate(size_t keep) {
    if (keep < frames_.size()) frames_.erase(frames_.begin() + static_cast<std::ptrdiff_t>(keep), frames_.end());
  }
  void clear() { frames_.clear(); }

 private:
  size_t limit_;
  std::deque<Payload> frames_;
};

}  // namespace im::net
