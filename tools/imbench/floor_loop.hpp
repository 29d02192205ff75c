// The pieces of `floor --rate` (scenario_floor_paced.cpp) that its relay and its client share: the
// 100-byte frames, and an epoll loop over non-blocking sockets that writes what a turn queued.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "loopback.hpp"

namespace imbench::paced_floor {

constexpr size_t kFrameBytes = 100;

enum FrameType : char { kSend = 'S', kEchoAndAck = 'E', kPush = 'P', kAck = 'A' };

// The fields of a frame: its type, who sent the message, the message's index among that sender's,
// and when it was sent (CLOCK_MONOTONIC, which relay and client share).
struct FrameFields {
  char type = 0;
  uint32_t sender = 0;
  uint32_t index = 0;
  int64_t sent_ns = 0;
};

int64_t monotonic_ns();


// The sockets of one side and its epoll set. Frames queued during a turn leave at its end, in one
// write per socket unless the socket was already waiting for room. What a socket does not take at
// once waits for EPOLLOUT while the loop goes on reading, so that neither side can stop the other
// by not reading.
class EventLoop {
 public:
  // Watches every descriptor (non-blocking) for reading; socket i is ev.data.u32 == i.
  explicit EventLoop(const std::vector<Fd>& sockets);

  int epoll_fd() const { return epoll_.get(); }
  // Also watches `fd` for reading, reported as `tag` (not a socket index).
  void watch_extra(int fd, uint32_t tag);
  // Sockets not yet closed by their peer or by an error.
  size_t open() const { return open_; }

  // Reads socket i once (up to 64 KB) and hands every complete frame to on_frame. Closes the
  // socket at EOF or error.
  template <class OnFrame>
  void read(uint32_t i, OnFrame&& on_frame) {
    auto& c = conns_[i];
    if (!c.open) return;
    auto got = read_some(i);
    if (got <= 0) return;
    size_t used = 0;
    for (; c.in.size() - used >= kFrameBytes; used += kFrameBytes) on_frame(parse(c.in.data() + used));
    c.in.erase(0, used);
  }
  // Socket i has room again (EPOLLOUT).
  void writable(uint32_t i) { write(i); }

  void queue(uint32_t i, const FrameFields& f);
  // The end of a turn: writes what the turn queued.
  void flush();

 private:
  struct Conn {
    int fd = -1;
    bool open = true;
    bool queued = false;           // in dirty_: frames of this turn
    bool waiting_for_room = false;  // watched for EPOLLOUT
    std::string in, out;
    size_t sent = 0;  // bytes of `out` already written
  };

  static FrameFields parse(const char* frame);
  // Appends what the socket has to conns_[i].in; the byte count, 0 at EOF or error (the socket is
  // then closed), -1 when nothing was there.
  long read_some(uint32_t i);
  void write(uint32_t i);
  void watch(uint32_t i, bool for_room);
  void close(uint32_t i);

  Fd epoll_;
  std::vector<Conn> conns_;
  std::vector<uint32_t> dirty_;
  std::vector<char> buffer_;
  size_t open_ = 0;
};

}  // namespace imbench::paced_floor
