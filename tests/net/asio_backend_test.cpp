// The I/O backend under the server (CMakeLists.txt, IM_IO_URING): a socket closed while a read is
// pending must not hand that read to the next socket opened, and cancellations must not complete
// other operations. Boost 1.81's io_uring backend did both (cmake/AsioIoUringFix.cmake); the
// server closes sockets with reads pending all the time (every disconnect, every timeout).
// Runs on whichever backend the build uses, over real loopback sockets.

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio.hpp>

#if defined(BOOST_ASIO_HAS_IO_URING)
#include <liburing.h>
#endif

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

struct Read {
  std::optional<error_code> ec;
  std::size_t bytes = 0;
  std::array<char, 16> buffer{};
};

void start_read(tcp::socket& socket, Read& read) {
  socket.async_read_some(asio::buffer(read.buffer), [&read](error_code ec, std::size_t n) {
    read.ec = ec;
    read.bytes = n;
  });
}

// Runs handlers until `done` holds; false if the context has had nothing to do for 5 s.
template <typename Done>
bool run_until(asio::io_context& ioc, Done done) {
  while (!done()) {
    ioc.restart();
    if (ioc.run_one_for(std::chrono::seconds(5)) == 0 && !done()) return false;
  }
  return true;
}

// False where the kernel refuses io_uring (kernel.io_uring_disabled, a container's seccomp profile).
bool backend_available() {
#if defined(BOOST_ASIO_HAS_IO_URING)
  io_uring ring;
  if (io_uring_queue_init(16384, &ring, 0) < 0) return false;
  io_uring_queue_exit(&ring);
#endif
  return true;
}

}  // namespace

TEST_CASE("a read pending on a closed socket completes as aborted and leaves the next socket alone") {
  if (!backend_available()) {
    MESSAGE("io_uring is refused on this machine: the io_uring backend is not tested here");
    return;
  }
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto endpoint = acceptor.local_endpoint();
  // Enough rounds (about 5 entries each) that the ring's 16,384 submission slots are reused twice.
  constexpr int kRounds = 8000;
  // Bystanders: connections whose reads stay pending through every round. A cancellation that
  // completed some other operation (a stale entry in the ring) would complete one of these early.
  constexpr int kBystanders = 64;
  std::vector<std::unique_ptr<tcp::socket>> bystanders, bystander_peers;
  std::vector<Read> bystander_reads(kBystanders);
  for (int i = 0; i < kBystanders; ++i) {
    bystanders.push_back(std::make_unique<tcp::socket>(ioc));
    bystander_peers.push_back(std::make_unique<tcp::socket>(ioc));
    bystanders.back()->connect(endpoint);
    acceptor.accept(*bystander_peers.back());
    start_read(*bystanders.back(), bystander_reads[i]);
  }
  auto bystanders_completed = [&] {
    int n = 0;
    for (auto& read : bystander_reads) n += read.ec ? 1 : 0;
    return n;
  };
  for (int round = 0; round < kRounds; ++round) {
    tcp::socket closed(ioc), peer_of_closed(ioc);
    closed.connect(endpoint);
    acceptor.accept(peer_of_closed);
    Read pending;
    start_read(closed, pending);
    ioc.restart();
    ioc.poll();  // the read is now waiting in the backend
    closed.close();

    // The next socket opened takes the closed one's place in the backend (and often its number).
    tcp::socket next(ioc), peer_of_next(ioc);
    next.connect(endpoint);
    acceptor.accept(peer_of_next);
    Read fresh;
    start_read(next, fresh);
    asio::write(peer_of_next, asio::buffer("x", 1));
    asio::write(peer_of_closed, asio::buffer("y", 1));

    bool finished = run_until(ioc, [&] { return pending.ec && fresh.ec; });
    bool right = finished && *pending.ec == asio::error::operation_aborted && !*fresh.ec && fresh.bytes == 1 &&
                 fresh.buffer[0] == 'x' && bystanders_completed() == 0;
    if (!right)
      FAIL("round " << round << ": finished " << finished << ", closed socket's read "
                    << (pending.ec ? pending.ec->message() : "pending") << ", next socket's read "
                    << (fresh.ec ? fresh.ec->message() : "pending") << " with " << fresh.bytes
                    << " byte(s), bystander reads completed " << bystanders_completed());
  }

  // Each bystander's read still gets its own byte.
  for (int i = 0; i < kBystanders; ++i) {
    char byte = static_cast<char>('a' + i % 26);
    asio::write(*bystander_peers[i], asio::buffer(&byte, 1));
  }
  REQUIRE(run_until(ioc, [&] { return bystanders_completed() == kBystanders; }));
  for (int i = 0; i < kBystanders; ++i) {
    CAPTURE(i);
    CHECK(!*bystander_reads[i].ec);
    CHECK(bystander_reads[i].bytes == 1);
    CHECK(bystander_reads[i].buffer[0] == static_cast<char>('a' + i % 26));
  }
}
