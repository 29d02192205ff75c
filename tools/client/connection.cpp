#include "client/connection.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "client/link.hpp"

namespace imclient {

namespace {

using detail::fail;
using detail::Outgoing;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

// Bound on one write, so that a server that stopped reading fails a test instead of hanging it.
constexpr auto write_limit = std::chrono::seconds(30);

std::string hex_prefix(const std::string& bytes, std::size_t max_bytes = 64) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (std::size_t i = 0; i < bytes.size() && i < max_bytes; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    hex += digits[byte >> 4];
    hex += digits[byte & 15];
  }
  return hex;
}

nlohmann::json decode(const detail::Incoming& in) {
  nlohmann::json frame = in.binary ? nlohmann::json::from_msgpack(in.bytes, true, false)
                                   : nlohmann::json::parse(in.bytes, nullptr, false);
  if (!frame.is_discarded()) return frame;
  return {{"type", "_undecodable"},
          {"encoding", in.binary ? "msgpack" : "json"},
          {"bytes", in.bytes.size()},
          {"prefix_hex", hex_prefix(in.bytes)}};
}

bool has_type(const nlohmann::json& frame, const std::string& type) {
  if (!frame.is_object()) return false;
  const auto it = frame.find("type");
  return it != frame.end() && it->is_string() && it->get_ref<const std::string&>() == type;
}

// Frames in failure messages: compact, bounded, never throwing on bad UTF-8.
std::string summarize(const std::vector<nlohmann::json>& frames) {
  if (frames.empty()) return "none";
  constexpr std::size_t max_frames = 20;
  constexpr std::size_t max_chars = 300;
  std::string text;
  for (std::size_t i = 0; i < frames.size() && i < max_frames; ++i) {
    std::string one = frames[i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (one.size() > max_chars) one = one.substr(0, max_chars) + "...";
    text += "\n  " + one;
  }
  if (frames.size() > max_frames)
    text += "\n  ... and " + std::to_string(frames.size() - max_frames) + " more";
  return text;
}

std::chrono::milliseconds until(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

}  // namespace

struct Connection::Impl {
  Impl(Transport transport, Encoding encoding, std::chrono::milliseconds timeout)
      : transport(transport), encoding(encoding), timeout(timeout) {}

  const Transport transport;
  const Encoding encoding;
  const std::chrono::milliseconds timeout;  // of open(), reused to bound close()

  // Declared before `link`, which uses it, so that it is destroyed after.
  net::io_context ioc;
  std::unique_ptr<detail::Link> link;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  std::thread io_thread;

  // I/O thread only: writes wait here so that exactly one is outstanding.
  struct PendingWrite {
    Outgoing out;
    std::shared_ptr<std::promise<void>> written;
  };
  std::deque<PendingWrite> writes;
  bool writing = false;

  // Shared between the I/O thread and callers.
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<nlohmann::json> frames;
  std::vector<nlohmann::json> skipped;
  bool closed = false;
  int close_code = -1;
  std::string close_reason;
  bool closed_by_client = false;  // close() or abort() was called: no more writes

  ~Impl() {
    if (!io_thread.joinable()) return;
    net::post(ioc, [this] {
      link->abort();
      keep_running.reset();
    });
    io_thread.join();
  }

  void start() {
    keep_running.emplace(net::make_work_guard(ioc));
    ioc.restart();  // open() ran it to completion in the caller's thread
    net::post(ioc, [this] { read_next(); });
    io_thread = std::thread([this] { ioc.run(); });
  }

  // --- I/O thread ---

  void read_next() {
    link->async_read([this](detail::error_code ec, detail::Incoming in) {
      if (ec) {
        const int code = link->close_code();
        mark_closed(code,
                    code >= 0 ? link->close_reason() : "connection ended: " + detail::describe(ec));
        return;
      }
      on_frame(decode(in));
      read_next();
    });
  }

  void on_frame(nlohmann::json frame) {
    // Raw TCP has no close frames of its own: the server's last JSON frame stands for one.
    const bool raw_close = transport == Transport::raw_tcp && has_type(frame, "close");
    int code = -1;
    std::string reason;
    if (raw_close) {
      if (const auto it = frame.find("code"); it != frame.end() && it->is_number_integer())
        code = it->get<int>();
      if (const auto it = frame.find("reason"); it != frame.end() && it->is_string())
        reason = it->get<std::string>();
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      frames.push_back(std::move(frame));
    }
    changed.notify_all();
    if (raw_close) mark_closed(code, reason);
  }

  // The first end wins: a raw TCP close frame's code is kept when the socket ends after it.
  void mark_closed(int code, std::string reason) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (closed) return;
      closed = true;
      close_code = code;
      close_reason = std::move(reason);
    }
    changed.notify_all();
  }

  void write_next() {
    if (writing || writes.empty()) return;
    writing = true;
    link->async_write(writes.front().out, [this](detail::error_code) {
      // A failed write means the server is gone; the read side reports how.
      writes.front().written->set_value();
      writes.pop_front();
      writing = false;
      write_next();
    });
  }

  // --- callers' threads ---

  // Runs `task` on the I/O thread and waits for it.
  template <class Task>
  void run_on_io(Task task) {
    std::promise<void> done;
    net::post(ioc, [&] {
      task();
      done.set_value();
    });
    done.get_future().wait();
  }

  // Queues `out` and waits until it is written (or failed), at most `limit`.
  void write(Outgoing out, std::chrono::milliseconds limit) {
    const std::size_t size = out.bytes.size();
    auto written = std::make_shared<std::promise<void>>();
    auto future = written->get_future();
    net::post(ioc, [this, out = std::move(out), written]() mutable {
      writes.push_back({std::move(out), std::move(written)});
      write_next();
    });
    if (future.wait_for(limit) != std::future_status::ready)
      fail("a write of " + std::to_string(size) + " bytes did not finish within " +
           std::to_string(limit.count()) + " ms (is the server reading?)");
  }

  void send(Outgoing out) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (closed_by_client) fail("cannot send: the client already closed this connection");
    }
    write(std::move(out), write_limit);
  }

  void drop_socket() {
    run_on_io([this] {
      link->abort();
      mark_closed(-1, "aborted by the client");
    });
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, Transport transport,
                                             Encoding encoding, std::chrono::milliseconds timeout) {
  if (transport == Transport::raw_tcp && encoding == Encoding::msgpack)
    fail("raw TCP frames are always JSON: MessagePack needs the WebSocket transport");
  auto impl = std::make_unique<Impl>(transport, encoding, timeout);
  impl->link = transport == Transport::websocket
                   ? detail::make_websocket_link(impl->ioc, endpoint.tls)
                   : detail::make_raw_tcp_link(impl->ioc, endpoint.tls);
  impl->link->open(endpoint, timeout);
  impl->start();
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

void Connection::send(const nlohmann::json& frame) {
  if (impl_->encoding == Encoding::msgpack) {
    const std::vector<std::uint8_t> packed = nlohmann::json::to_msgpack(frame);
    impl_->send({Outgoing::Kind::binary, std::string(packed.begin(), packed.end())});
  } else {
    impl_->send({Outgoing::Kind::text, frame.dump()});
  }
}

void Connection::send_text_raw(const std::string& bytes) {
  impl_->send({Outgoing::Kind::text, bytes});
}

void Connection::send_bytes_raw(const std::string& bytes) {
  impl_->send({Outgoing::Kind::unframed, bytes});
}

void Connection::send_wire_raw(const std::string& bytes) {
  impl_->send({Outgoing::Kind::wire, bytes});
}

void Connection::send_ws_ping() {
  if (impl_->transport == Transport::websocket) impl_->send({Outgoing::Kind::ping, {}});
}

std::optional<nlohmann::json> Connection::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return !impl_->frames.empty() || impl_->closed; });
  if (impl_->frames.empty()) return std::nullopt;
  nlohmann::json frame = std::move(impl_->frames.front());
  impl_->frames.pop_front();
  return frame;
}

nlohmann::json Connection::expect(const std::string& type, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<nlohmann::json> passed;
  auto keep_passed = [&] {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->skipped.insert(impl_->skipped.end(), passed.begin(), passed.end());
  };
  // Frames already queued at the deadline are still looked at; a flood does not extend it.
  while (auto frame = next(until(deadline))) {
    if (has_type(*frame, type)) {
      keep_passed();
      return std::move(*frame);
    }
    passed.push_back(std::move(*frame));
    if (Clock::now() >= deadline) break;
  }
  keep_passed();
  std::string outcome = "none arrived within " + std::to_string(timeout.count()) + " ms";
  if (closed()) {
    outcome = "the connection closed (code " +
              std::to_string(*wait_closed(std::chrono::milliseconds(0))) + ", reason \"" +
              close_reason() + "\")";
  }
  fail("expected a frame of type '" + type + "', but " + outcome +
       "; frames received meanwhile: " + summarize(passed));
}

std::vector<nlohmann::json> Connection::skipped() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<nlohmann::json> taken;
  taken.swap(impl_->skipped);
  return taken;
}

bool Connection::closed() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->closed;
}

std::optional<int> Connection::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  if (!impl_->changed.wait_for(lock, timeout, [&] { return impl_->closed; })) return std::nullopt;
  return impl_->close_code;
}

std::string Connection::close_reason() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->close_reason;
}

void Connection::close() {
  bool already_closed = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->closed_by_client) return;
    impl_->closed_by_client = true;
    already_closed = impl_->closed;
  }
  if (!already_closed) {
    try {
      impl_->write({Outgoing::Kind::close, {}}, impl_->timeout);
      wait_closed(impl_->timeout);
    } catch (const std::runtime_error&) {
      // The handshake did not finish in time: dropping the socket below ends it anyway.
    }
  }
  impl_->drop_socket();
}

void Connection::abort() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->closed_by_client = true;
  }
  impl_->drop_socket();
}

Encoding Connection::encoding() const { return impl_->encoding; }
Transport Connection::transport() const { return impl_->transport; }

}  // namespace imclient
