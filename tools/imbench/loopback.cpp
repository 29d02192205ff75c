#include "loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace imbench {

namespace {

void no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

std::runtime_error errno_error(const char* what) {
  return std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

Fd::Fd(int fd, const char* what) : fd_(fd) {
  if (fd_ < 0) throw errno_error(what);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

LoopbackPairs connect_loopback_pairs(int count) {
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.get(), 16) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw errno_error("loopback listener");
  LoopbackPairs pairs;
  for (int i = 0; i < count; ++i) {
    // One at a time, so that the accepted socket is the one just connected.
    Fd client(::socket(AF_INET, SOCK_STREAM, 0));
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw errno_error("loopback connect");
    Fd server(::accept(listener.get(), nullptr, nullptr), "accept");
    no_delay(client.get());
    no_delay(server.get());
    pairs.clients.push_back(std::move(client));
    pairs.servers.push_back(std::move(server));
  }
  return pairs;
}

}  // namespace imbench
