#pragma once
// The bounded queue of frames waiting to be written on one socket, and the close that follows
// them. Used on the session's strand only.

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace im::net {

struct OutboundFrame {
  std::shared_ptr<const std::string> payload;
  bool binary = false;
};

struct PendingClose {
  int code = 1000;
  std::string reason;
};

class OutboundQueue {
 public:
  explicit OutboundQueue(size_t limit) : limit_(limit) {}

  // False when the queue is full: the client is not keeping up.
  bool push(OutboundFrame frame) {
    if (frames_.size() >= limit_) return false;
    frames_.push_back(std::move(frame));
    return true;
  }
  bool empty() const { return frames_.empty(); }
  OutboundFrame& front() { return frames_.front(); }
  void pop() { frames_.pop_front(); }
  void clear() { frames_.clear(); }

  // The first close asked for wins; frames queued after it are not written.
  void request_close(int code, std::string reason) {
    if (!close_) close_ = PendingClose{code, std::move(reason)};
  }
  const std::optional<PendingClose>& close_requested() const { return close_; }

 private:
  size_t limit_;
  std::deque<OutboundFrame> frames_;
  std::optional<PendingClose> close_;
};

}  // namespace im::net
