#include "floor_loop.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace imbench::paced_floor {

namespace {

constexpr size_t kReadBytes = 64 * 1024;

}  // namespace

int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

EventLoop::EventLoop(const std::vector<Fd>& sockets)
    : epoll_(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"), conns_(sockets.size()), buffer_(kReadBytes) {
  for (uint32_t i = 0; i < conns_.size(); ++i) {
    conns_[i].fd = sockets[i].get();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, conns_[i].fd, &ev) != 0) throw errno_error("epoll_ctl");
  }
  open_ = conns_.size();
}

void EventLoop::watch_extra(int fd, uint32_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = tag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw errno_error("epoll_ctl");
}

FrameFields EventLoop::parse(const char* frame) {
  FrameFields f;
  f.type = frame[0];
  std::memcpy(&f.sender, frame + 4, sizeof f.sender);
  std::memcpy(&f.index, frame + 8, sizeof f.index);
  std::memcpy(&f.sent_ns, frame + 16, sizeof f.sent_ns);
  return f;
}

long EventLoop::read_some(uint32_t i) {
  auto& c = conns_[i];
  for (;;) {
    auto got = ::read(c.fd, buffer_.data(), buffer_.size());
    if (got > 0) {
      c.in.append(buffer_.data(), static_cast<size_t>(got));
      return got;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
    close(i);
    return 0;
  }
}

void EventLoop::queue(uint32_t i, const FrameFields& f) {
  auto& c = conns_[i];
  if (!c.open) return;  // nobody reads it any more
  char frame[kFrameBytes];
  std::memset(frame, 'x', sizeof frame);
  frame[0] = f.type;
  std::memcpy(frame + 4, &f.sender, sizeof f.sender);
  std::memcpy(frame + 8, &f.index, sizeof f.index);
  std::memcpy(frame + 16, &f.sent_ns, sizeof f.sent_ns);
  c.out.append(frame, sizeof frame);
  if (!c.queued) {
    c.queued = true;
    dirty_.push_back(i);
  }
}

void EventLoop::flush() {
  for (auto i : dirty_) {
    conns_[i].queued = false;
    if (!conns_[i].waiting_for_room) write(i);  // otherwise EPOLLOUT writes it
  }
  dirty_.clear();
}

void EventLoop::write(uint32_t i) {
  auto& c = conns_[i];
  if (!c.open) return;
  while (c.sent < c.out.size()) {
    auto n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.out.erase(0, c.sent);  // keep only what is left, not everything since the socket was last empty
      c.sent = 0;
      if (!c.waiting_for_room) watch(i, true);
      return;
    } else {
      close(i);  // the peer is gone
      return;
    }
  }
  c.out.clear();
  c.sent = 0;
  if (c.waiting_for_room) watch(i, false);
}

void EventLoop::watch(uint32_t i, bool for_room) {
  epoll_event ev{};
  ev.events = for_room ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.u32 = i;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, conns_[i].fd, &ev) != 0) throw errno_error("epoll_ctl");
  conns_[i].waiting_for_room = for_room;
}

void EventLoop::close(uint32_t i) {
  auto& c = conns_[i];
  if (!c.open) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd, nullptr);
  ::shutdown(c.fd, SHUT_RDWR);  // the peer learns now; the descriptor is its owner's to close
  c.open = false;
  c.out.clear();
  c.sent = 0;
  --open_;
}

}  // namespace imbench::paced_floor
