#pragma once
// Frames handed from actor threads to a session's strand. They gather under a lock, and only the
// first frame of a burst asks its sender to post a drain, so a burst costs one hop to the I/O
// thread, not one per frame. Used by the WebSocket and raw TCP sessions.

#include <mutex>
#include <utility>
#include <vector>

namespace im::net {

template <class Frame>
class FrameHandoff {
 public:
  // Any thread. True when no drain is pending: the caller must post one.
  bool add(Frame frame) {
    std::lock_guard<std::mutex> lock(mutex_);
    frames_.push_back(std::move(frame));
    if (drain_posted_) return false;
    drain_posted_ = true;
    return true;
  }

  // On the strand, in the posted drain: every frame added since the last take, in order. A frame
  // added after this returns asks for a new drain.
  std::vector<Frame> take() {
    std::vector<Frame> out;
    std::lock_guard<std::mutex> lock(mutex_);
    out.swap(frames_);
    drain_posted_ = false;
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<Frame> frames_;
  bool drain_posted_ = false;
};

}  // namespace im::net
