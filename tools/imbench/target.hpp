// Where imbench connects, and from which loopback source address. Loopback only: every run
// stays on this machine.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <atomic>
#include <cstdint>
#include <string>

namespace imbench {

struct Target {
  boost::asio::ip::tcp::endpoint server;
  std::string host_header;  // "127.0.0.1:8080"
  int sources = 16;         // spread connections over 127.0.0.1 .. 127.0.0.<sources>

  // Parses HOST:PORT; HOST must be a loopback address or "localhost". Throws std::runtime_error.
  static Target parse(const std::string& host_port, int sources);
  // The source address for the n-th connection: 127.0.0.(1 + n % sources).
  boost::asio::ip::address_v4 source(uint64_t n) const;
};

// Opens `socket` and binds it to `source` with IP_BIND_ADDRESS_NO_PORT, so the kernel picks the
// port at connect time per destination and source ports do not run out at ~28,000 connections.
void bind_source(boost::asio::ip::tcp::socket& socket, const boost::asio::ip::address_v4& source);

}  // namespace imbench
