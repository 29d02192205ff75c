#include "net/server.hpp"

#include <pthread.h>

#include <cstring>
#include <thread>
#include <vector>

#include "net/sessions.hpp"

#if defined(BOOST_ASIO_HAS_IO_URING)
#include <liburing.h>
#if !defined(IM_ASIO_IO_URING_FIXED)
#error "asio's io_uring backend is used without cmake/AsioIoUringFix.cmake's patched io_uring_service.ipp"
#endif
#endif

namespace im {

using namespace im::net;

namespace {

// Accepts connections. When the process runs out of file descriptors, accept fails with
// EMFILE/ENFILE: we back off instead of spinning, keep serving the connections we have, log
// once per episode and count it.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, std::shared_ptr<SharedState> state, tcp::endpoint endpoint)
      : ioc_(ioc), acceptor_(asio::make_strand(ioc)), backoff_(ioc), state_(std::move(state)) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void run() { do_accept(); }
  void stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->backoff_.cancel();
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec.value() == ENOBUFS ||
        ec.value() == ENOMEM) {
      if (!exhausted_) {
        spdlog::warn("accept: out of file descriptors ({}); backing off until some are free", ec.message());
        exhausted_ = true;
      }
      state_->runtime.counters().accept_fd_exhausted++;
      backoff_.expires_after(std::chrono::milliseconds(50));
      backoff_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->do_accept();
      });
      return;
    }
    if (ec) {
      fail(ec, "accept");
    } else {
      if (exhausted_) {
        spdlog::info("accept: file descriptors available again");
        exhausted_ = false;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (auto bytes = state_->options.socket_send_buffer_bytes; bytes > 0)
        socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(std::min<int64_t>(bytes, INT32_MAX))),
                          ignored);
      start_detect(state_, std::move(socket));
    }
    do_accept();
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  std::shared_ptr<SharedState> state_;
  bool exhausted_ = false;
};

// A build on io_uring (CMakeLists.txt, IM_IO_URING) needs a kernel that allows it. Say so plainly
// instead of failing at the first socket with asio's bare "io_uring_queue_init". The probe's ring
// has asio's size (16,384 entries), so that a locked-memory limit (kernels before 5.12) shows here.
void require_io_backend() {
#if defined(BOOST_ASIO_HAS_IO_URING)
  io_uring ring;
  if (int rc = io_uring_queue_init(16384, &ring, 0); rc < 0)
    throw std::runtime_error(std::string("io_uring is not available here (") + std::strerror(-rc) +
                             "): check sysctl kernel.io_uring_disabled, the container's seccomp profile and "
                             "ulimit -l, or build with cmake -DIM_IO_URING=OFF");
  io_uring_queue_exit(&ring);
#endif
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& options, Runtime& runtime, Accounts& accounts, Records& records)
      : ioc(std::max(1, options.io_threads)),
        state(std::make_shared<SharedState>(options, runtime, accounts, records)) {}

  asio::io_context ioc;
  std::shared_ptr<SharedState> state;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  bool stopped = false;
};

Server::Server(const ServerOptions& options, Runtime& runtime, Accounts& accounts, Records& records)
    : impl_(std::make_unique<Impl>(options, runtime, accounts, records)) {}

Server::~Server() { stop(); }

uint16_t Server::start() {
  require_io_backend();
  auto& options = impl_->state->options;
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    auto tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    try {
      tls->use_certificate_chain_file(options.tls_cert);
      tls->use_private_key_file(options.tls_key, ssl::context::pem);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("cannot load TLS certificate or key: ") + e.what());
    }
    impl_->state->tls = std::move(tls);
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(options.bind, ec);
  if (ec) throw std::runtime_error("invalid --bind address: " + options.bind);
  try {
    impl_->listener = std::make_shared<Listener>(impl_->ioc, impl_->state,
                                                 tcp::endpoint(address, static_cast<uint16_t>(options.port)));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + options.bind + ":" + std::to_string(options.port) + ": " +
                             e.what());
  }
  impl_->listener->run();
  for (int i = 0; i < std::max(1, options.io_threads); ++i)
    impl_->threads.emplace_back([this] {
      pthread_setname_np(pthread_self(), "im.io");
      impl_->ioc.run();
    });
  return impl_->listener->port();
}

void Server::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->state->stopping = true;
  if (impl_->listener) impl_->listener->stop();
  impl_->state->close_all();
  // Give the 1001 closes a moment to go out; sessions leave as their sockets finish. Those still
  // there (clients that do not read, or do not close their side) lose their sockets now: the
  // runtime's shutdown waits for every connection actor, and an actor ends when its session does.
  if (!impl_->state->wait_drained(std::chrono::seconds(2))) {
    impl_->state->abort_all();
    impl_->state->wait_drained(std::chrono::seconds(1));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  if (impl_->state->store_reads) impl_->state->store_reads->join();  // its jobs may post to `blocking`
  impl_->state->blocking.join();
}

}  // namespace im
