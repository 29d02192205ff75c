#pragma once
// A plain client socket for tests of the transports themselves: writes whole byte strings, and
// reads whatever arrives into a buffer with every wait bounded by a deadline (poll), so that
// nothing sleeps. The WebSocket client (raw_ws.hpp) and the raw TCP tests build on it.

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio.hpp>

namespace rawsock {

class RawSocket {
 public:
  // `receive_buffer` (bytes, if set) is the socket's SO_RCVBUF, set before connecting so that the
  // TCP window stays that small: the server's writes then block as soon as this side stops reading.
  explicit RawSocket(uint16_t port, int receive_buffer = 0) {
    socket_.open(boost::asio::ip::tcp::v4());
    if (receive_buffer > 0) socket_.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer));
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    socket_.set_option(boost::asio::ip::tcp::no_delay(true));
  }

  void write(const std::string& bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes)); }

  bool eof() const { return eof_; }
  // The connection ended with a reset (or another error) rather than the server's orderly EOF.
  bool reset() const { return reset_; }

 protected:
  // Reads what is there into buf_, waiting at most until `deadline`. False on deadline or EOF.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_) return false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return false;
      pollfd p{socket_.native_handle(), POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char buf[16 * 1024];
      boost::system::error_code ec;
      auto n = socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec) {  // eof, or a reset: the connection is over either way
        eof_ = true;
        reset_ = ec != boost::asio::error::eof;
        return false;
      }
      buf_.append(buf, n);
      return true;
    }
  }

  std::string buf_;  // received and not yet parsed
  bool eof_ = false;
  bool reset_ = false;

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_{ioc_};
};

}  // namespace rawsock
