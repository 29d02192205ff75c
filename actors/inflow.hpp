#pragma once
// The bounded queue between a session and its connection actor. A session hands each decoded
// client frame to the actor's mailbox (CAF's, which has no bound); Inflow counts the frames and
// bytes handed over and not yet handled, and when either reaches its limit
// (--inbound-queue-frames, --inbound-queue-bytes) the session stops reading its socket until the
// actor has handled one (Session::resume_reading()). So a client that sends faster than its
// actor works fills its own TCP window, not the server's memory.
//
// It also carries the time of the last WebSocket ping or pong, which count as activity for the
// idle timeout, so that a ping costs no actor message.
//
// Thread-safe; no CAF.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace im {

class Inflow {
 public:
  Inflow(int64_t max_frames, int64_t max_bytes)
      : max_frames_(static_cast<size_t>(std::max<int64_t>(1, max_frames))),
        max_bytes_(static_cast<size_t>(std::max<int64_t>(1, max_bytes))) {}

  // The session (its I/O thread): a frame of `bytes` goes to the actor. False when the queue is
  // full with it: the session reads no more until resume_reading(). One frame always goes in,
  // however large (a frame is at most --max-frame-bytes).
  bool enter(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++frames_;
    bytes_ += bytes;
    return !full();
  }

  // The connection actor: a frame of `bytes` was handled. True when the queue was full and no
  // longer is: the caller then resumes the session's reading. (Only enter() makes it full, and
  // the session stops at once when it does, so exactly one leave() answers each stop.)
  bool leave(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    bool was_full = full();
    --frames_;
    bytes_ -= std::min(bytes, bytes_);
    return was_full && !full();
  }

  size_t frames() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return frames_;
  }

  // A WebSocket ping or pong arrived (any thread).
  void touch() { last_activity_ns_.store(now_ns(), std::memory_order_relaxed); }
  // When touch() was last called (the epoch of steady_clock if never).
  std::chrono::steady_clock::time_point last_activity() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(last_activity_ns_.load(std::memory_order_relaxed)));
  }

 private:
  bool full() const { return frames_ >= max_frames_ || bytes_ >= max_bytes_; }
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  const size_t max_frames_;
  const size_t max_bytes_;
  mutable std::mutex mutex_;
  size_t frames_ = 0;
  size_t bytes_ = 0;
  std::atomic<int64_t> last_activity_ns_{0};
};

}  // namespace im
