#include "target.hpp"

#include <netinet/in.h>

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

namespace imbench {

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

Target Target::parse(const std::string& host_port, int sources) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--server must be HOST:PORT, got " + host_port);
  std::string host = host_port.substr(0, colon);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  unsigned long port = 0;
  try {
    port = std::stoul(host_port.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::runtime_error("--server has a bad port: " + host_port);
  }
  if (port == 0 || port > 65535) throw std::runtime_error("--server has a bad port: " + host_port);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address_v4(host, ec);
  if (ec || !address.is_loopback())
    throw std::runtime_error("--server must be a loopback address (127.x.x.x or localhost): " + host);
  if (sources < 1 || sources > 250) throw std::runtime_error("--sources must be 1 to 250");
  Target t;
  t.server = {address, static_cast<uint16_t>(port)};
  t.host_header = host + ":" + std::to_string(port);
  t.sources = sources;
  return t;
}

boost::asio::ip::address_v4 Target::source(uint64_t n) const {
  return boost::asio::ip::address_v4(0x7F000001u + static_cast<uint32_t>(n % static_cast<uint64_t>(sources)));
}

void bind_source(boost::asio::ip::tcp::socket& socket, const boost::asio::ip::address_v4& source) {
  socket.open(boost::asio::ip::tcp::v4());
  using NoPort = boost::asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>;
  boost::system::error_code ignored;
  socket.set_option(NoPort(true), ignored);  // older kernels: plain bind, still works
  socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  socket.bind({source, 0});
}

}  // namespace imbench
