// A raw TCP connection (PROTOCOL.md section 1): 4-byte big-endian length, then that many bytes of
// JSON, both ways. Where a WebSocket would get a close code, the client first gets
// {"type":"close","code":N,"reason":"..."} as its last frame.
//
// Frames the actors send reach the strand in one posted drain per burst (net/frame_handoff.hpp);
// each write then copies as many queued frames as fit in kWriteBytes, each behind its length, into
// one buffer and writes it at once (as the WebSocket session does, net/ws_session.cpp).
//
// Reading goes in turns, as on a WebSocket: each read takes at most --read-turn-bytes, and after
// --read-turn-frames frames handled from what was read the next frame waits behind the I/O
// thread's other work. Rate limits are applied before a frame is decoded (net/flood_guard.hpp),
// and reading stops while the inbound queue to the connection actor is full (actors/inflow.hpp).

#include "net/flood_guard.hpp"
#include "net/frame_handoff.hpp"
#include "net/outbound_queue.hpp"
#include "net/sessions.hpp"
#include "protocol/codec.hpp"
#include "protocol/frames.hpp"
#include "protocol/raw_framer.hpp"

namespace im::net {

namespace {

constexpr int kTooSlowCloseCode = 1008;
// Policy violation: the client's address already has --max-connections-per-ip connections.
constexpr int kTooManyConnectionsCloseCode = 1008;
// A write copies queued frames into one buffer while they fit in this many bytes (at least one
// frame, however large).
constexpr size_t kWriteBytes = 64 * 1024;

template <class Stream>
class RawSession final : public Session,
                         public Closable,
                         public std::enable_shared_from_this<RawSession<Stream>> {
 public:
  RawSession(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer)
      : state_(std::move(state)),
        stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        queue_(static_cast<size_t>(state_->options.send_queue_frames)),
        guard_(state_->options),
        turn_bytes_(static_cast<size_t>(std::max<int64_t>(1024, state_->options.read_turn_bytes))),
        turn_frames_max_(static_cast<size_t>(std::max<int64_t>(1, state_->options.read_turn_frames))) {}

  ~RawSession() override {
    if (counted_) state_->connections_per_address.leave(address_);
    state_->leave(this);
  }

  void run(Clock::time_point accepted) {
    state_->join(this);
    beast::get_lowest_layer(stream_).expires_never();
    address_ = peer_address(lowest_socket(stream_));
    if (state_->stopping) {  // joined after close_all(): it did not see this session
      begin_close(1001, "server shutting down");
      drain();
      return;
    }
    if (!state_->connections_per_address.try_enter(address_, state_->options.max_connections_per_ip)) {
      refuse_too_many();
      drain();
      return;
    }
    counted_ = true;
    SessionInfo info{address_, is_tls<Stream>() ? "tls" : "tcp"};
    link_ = state_->runtime.open_connection(this->weak_from_this(), std::move(info), accepted, false);
    read_prefix();
  }

  // Session: called from actor threads. One posted drain moves a burst to the queue.
  void send_frame(std::shared_ptr<const std::string> payload, bool) override {
    if (incoming_.add(std::move(payload)))
      asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->drain_incoming(); });
  }

  void close(int code, const std::string& reason) override {
    // Shutdown may reach a session whose destructor is already running (it waits in leave()):
    // then there is nothing left to close.
    auto self = this->weak_from_this().lock();
    if (!self) return;
    // Moved into the handler: the caller keeps no reference. Were it the last one, the destructor
    // would run here, on a thread that may hold the session registry's lock (close_all).
    auto executor = stream_.get_executor();
    asio::post(executor, [self = std::move(self), code, reason] { self->begin_close(code, reason); });
  }

  void resume_reading() override {
    auto self = this->weak_from_this().lock();  // as in close(): the handler gets the reference
    if (!self) return;
    auto executor = stream_.get_executor();
    asio::post(executor, [self = std::move(self)] {
      if (!self->paused_) return;  // a close restarted reading already (begin_close())
      self->paused_ = false;
      self->paused_self_.reset();
      self->read_prefix();
    });
  }

  void close_for_shutdown() override { close(1001, "server shutting down"); }

  void abort_for_shutdown() override {
    auto self = this->weak_from_this().lock();  // as in close(): the handler gets the reference
    if (!self) return;
    auto executor = stream_.get_executor();
    asio::post(executor, [self = std::move(self)] { self->shutdown_socket(); });
  }

 private:
  // Makes sure `buffer_` holds at least `n` bytes, then calls `next`. (Reads into the buffer's
  // own storage: asio's dynamic-buffer reads would fill a copy of a beast::flat_buffer.)
  // Once the connection is closing, reading turns into drain().
  template <class Next>
  void fill(std::size_t n, Next next) {
    if (closing_) return drain();
    if (buffer_.size() >= n) {
      next();
      return;
    }
    auto room = buffer_.prepare(std::min(std::max<std::size_t>(n - buffer_.size(), 4096), turn_bytes_));
    stream_.async_read_some(room, [self = this->shared_from_this(), n, next](beast::error_code ec, std::size_t got) {
      if (ec) return self->on_read_end(ec);
      self->buffer_.commit(got);
      self->turn_frames_ = 0;  // a read completed: a new turn
      self->fill(n, next);
    });
  }

  // Closing: reads and drops what the client still sends until it closes its side (or the close
  // timer closes the socket). Closing the socket with unread bytes in it would make the kernel
  // reset the connection, and a reset discards the frames not yet delivered, the close frame
  // among them.
  void drain() {
    buffer_.consume(buffer_.size());
    auto room = buffer_.prepare(4096);
    stream_.async_read_some(room, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_read_end(ec);
      self->drain();
    });
  }

  // The client closed its side, the connection broke, or the close timer closed the socket.
  void on_read_end(beast::error_code ec) {
    reading_done_ = true;
    if (!closing_) {
      fail(ec, "raw read");
      return shutdown_socket();
    }
    // Closing: the socket goes once the close frame is written too (write_next()).
    if (!writing_ && queue_.empty()) shutdown_socket();
  }

  void read_prefix() {
    fill(4, [self = this->shared_from_this()] { self->on_prefix(); });
  }

  void on_prefix() {
    unsigned char prefix[4];
    asio::buffer_copy(asio::buffer(prefix), buffer_.cdata());
    auto length = parse_length_prefix(prefix, static_cast<uint64_t>(state_->options.max_frame_bytes));
    if (length.status == LengthStatus::too_large) {
      spdlog::debug("tcp {}: frame of {} bytes is over max_frame_bytes", peer(), length.length);
      begin_close(1009, "frame too big");
      return drain();  // the rest of the stream cannot be framed
    }
    if (length.status == LengthStatus::empty) {
      begin_close(4000, "empty frame");
      return drain();
    }
    buffer_.consume(4);
    auto n = static_cast<std::size_t>(length.length);
    fill(n, [self = this->shared_from_this(), n] { self->on_frame(n); });
  }

  // A complete frame: the rate limits first (net/flood_guard.hpp), then decoded and handed to
  // the connection actor.
  void on_frame(std::size_t n) {
    auto data = buffer_.cdata();
    std::string_view text(static_cast<const char*>(data.data()), n);
    auto& counters = state_->runtime.counters();
    auto admission = guard_.admit(text, Encoding::json, Encoding::json,
                                  static_cast<size_t>(state_->options.max_nesting), n + 4, counters);
    if (admission.refusal) {
      buffer_.consume(n);
      return answer_limited(std::move(admission.refusal));
    }
    auto& decoded = admission.decoded;
    Inbound in;
    in.status = decoded.status;
    in.message = std::move(decoded.message);
    in.encoding = Encoding::json;
    in.bytes = n + 4;
    if (decoded.status == DecodeStatus::ok)
      in.frame = std::make_shared<const nlohmann::json>(std::move(decoded.value));
    buffer_.consume(n);
    if (!link_->deliver(std::move(in))) {
      paused_ = true;  // resume_reading() goes on
      paused_self_ = this->shared_from_this();  // no read is pending to hold the session meanwhile
      counters.reads_paused++;
      return;
    }
    next_frame();
  }

  // A frame over a rate limit: its error goes out, and reading goes on.
  void answer_limited(std::shared_ptr<const std::string> error) {
    if (enqueue(std::move(error)) && !writing_) write_next();
    next_frame();
  }

  // The next frame, in this turn while it has frames left; otherwise behind the I/O thread's
  // other work.
  void next_frame() {
    if (++turn_frames_ < turn_frames_max_) return read_prefix();
    turn_frames_ = 0;
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->read_prefix(); });
  }

  void drain_incoming() {
    // All queued before the write: frames an actor sent in one turn (a send_ack and the echo
    // after it) leave in one write instead of one each.
    for (auto& frame : incoming_.take())
      if (!enqueue(std::move(frame))) break;
    if (!writing_) write_next();
  }

  // False once the connection is closing: this frame and later ones are not written.
  bool enqueue(OutboundQueue::Payload payload) {
    if (closing_ || finished_) return false;
    if (!queue_.push(std::move(payload))) {
      spdlog::info("tcp {}: client is not reading, disconnecting", peer());
      state_->runtime.counters().slow_client_closes++;
      // The frames being written stay until on_write() pops them; the rest are dropped.
      queue_.truncate(writing_ ? batch_frames_ : 0);
      begin_close(kTooSlowCloseCode, "too slow");
      return false;
    }
    return true;
  }

  void begin_close(int code, const std::string& reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    if (paused_) {  // reading stopped for a full inbound queue: drain what the client still sends
      paused_ = false;
      asio::post(stream_.get_executor(), [self = std::move(paused_self_)] { self->drain(); });
    }
    queue_.push_last(std::make_shared<const std::string>(frames::close(code, reason).dump()));
    // A close must not hang on a client that stopped reading or never closes its side: closing
    // the socket ends the pending read and write. (The stream's own timeout would not do: Beast's
    // expires_after() does not reach operations already pending.)
    close_timer_ = std::make_unique<asio::steady_timer>(
        stream_.get_executor(), std::chrono::milliseconds(state_->options.close_timeout_ms));
    close_timer_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->shutdown_socket();
    });
    if (!writing_) write_next();
  }

  // --max-connections-per-ip: an error frame, then the close frame (and, as for every close, a
  // lingering one: see drain()).
  void refuse_too_many() {
    state_->runtime.counters().connections_rejected_per_ip++;
    spdlog::info("tcp {}: refused, already {} connections from this address", address_,
                 state_->options.max_connections_per_ip);
    auto error = frames::error(Error::rate_limited, "too many connections from your address").dump();
    queue_.push(std::make_shared<const std::string>(std::move(error)));
    begin_close(kTooManyConnectionsCloseCode, "too many connections from your address");
  }

  void write_next() {
    if (queue_.empty()) {
      std::string().swap(batch_);  // an idle connection holds no write buffer
      if (!closing_) return;
      // The close frame is written: the connection is over for the actors, and the socket
      // lingers. The client reads to the end and closes its side, which ends drain(); the close
      // timer bounds the wait.
      if (reading_done_) return shutdown_socket();
      beast::error_code ignored;
      lowest_socket(stream_).shutdown(tcp::socket::shutdown_send, ignored);
      return finish();
    }
    batch_.clear();
    batch_frames_ = 0;
    while (batch_frames_ < queue_.size()) {
      const auto& payload = queue_.at(batch_frames_);
      if (batch_frames_ > 0 && batch_.size() + 4 + payload.size() > kWriteBytes) break;
      append_length_prefixed(batch_, payload);
      ++batch_frames_;
    }
    writing_ = true;
    asio::async_write(stream_, asio::buffer(batch_),
                      beast::bind_front_handler(&RawSession::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      fail(ec, "raw write");
      queue_.clear();
      closing_ = true;
      shutdown_socket();
      return;
    }
    queue_.pop(batch_frames_);
    write_next();
  }

  void shutdown_socket() {
    if (close_timer_) close_timer_->cancel();  // it holds this session
    beast::error_code ignored;
    lowest_socket(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    lowest_socket(stream_).close(ignored);
    finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (paused_self_)  // released from the queue: this call may be running on that reference
      asio::post(stream_.get_executor(), [keep = std::move(paused_self_)] {});
    if (link_) link_->closed();
  }

  std::string peer() { return peer_address(lowest_socket(stream_)); }

  std::shared_ptr<SharedState> state_;
  Stream stream_;
  beast::flat_buffer buffer_;
  OutboundQueue queue_;
  FloodGuard guard_;
  const size_t turn_bytes_;       // --read-turn-bytes: the most one read takes
  const size_t turn_frames_max_;  // --read-turn-frames
  size_t turn_frames_ = 0;        // frames handled since the last read completed
  bool paused_ = false;           // the inbound queue is full: resume_reading() goes on
  std::shared_ptr<RawSession> paused_self_;  // holds the session while paused (no read holds it)
  std::string batch_;        // what is being written: queued frames, each behind its length
  size_t batch_frames_ = 0;  // how many of the queue's first frames are in batch_
  std::unique_ptr<ConnectionLink> link_;
  std::string address_;
  bool counted_ = false;  // counted in connections_per_address
  bool reading_done_ = false;  // the read side ended: EOF, error or the close timer
  std::unique_ptr<asio::steady_timer> close_timer_;  // closing: bounds the lingering
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  FrameHandoff<OutboundQueue::Payload> incoming_;  // from actor threads to the strand
};

}  // namespace

template <class Stream>
void start_raw(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer buffer,
               Clock::time_point accepted) {
  std::make_shared<RawSession<Stream>>(std::move(state), std::move(stream), std::move(buffer))
      ->run(accepted);
}

template void start_raw<PlainStream>(std::shared_ptr<SharedState>, PlainStream, beast::flat_buffer,
                                     Clock::time_point);
template void start_raw<TlsStream>(std::shared_ptr<SharedState>, TlsStream, beast::flat_buffer,
                                   Clock::time_point);

}  // namespace im::net
