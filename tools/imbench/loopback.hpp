// Plain loopback TCP sockets for the scenarios that need no server (floor): a descriptor closed on
// scope exit, and connected pairs made through a listener on 127.0.0.1.
#pragma once

#include <stdexcept>
#include <vector>

namespace imbench {

// "what: <strerror(errno)>", for a failed system call.
std::runtime_error errno_error(const char* what);

// A file descriptor closed on scope exit. Throws on a negative descriptor, naming `what` made it
// and errno.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd, const char* what = "socket");
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// `count` connected loopback TCP pairs with TCP_NODELAY on both ends: client i is connected to
// server i. Throws on failure.
struct LoopbackPairs {
  std::vector<Fd> clients, servers;
};
LoopbackPairs connect_loopback_pairs(int count);

}  // namespace imbench
