// A WebSocket connection, framed by us (protocol/ws_framer.hpp) rather than by Beast's
// websocket::stream, for two reasons: every frame queued while a write is under way goes out in
// the next single write (Beast writes one message per syscall), and an idle plain-TCP connection
// holds no buffers (Beast keeps 4 KB per stream). It waits for readability and reads into a buffer
// shared by the I/O thread, and writes by copying queued frames into another such buffer and
// sending them at once (write_next()).
//
// Reading goes in turns (turn()): one read of at most --read-turn-bytes, at most
// --read-turn-frames frames handled, then the next turn is posted behind the I/O thread's other
// work, so one client that keeps sending cannot keep the thread from its other connections. Bytes
// read and not yet handled wait in the session's `stash_`. Rate limits are applied before a
// message is decoded (net/flood_guard.hpp), and the session stops reading while its inbound queue
// to the connection actor is full (actors/inflow.hpp).

#include "net/flood_guard.hpp"
#include "net/frame_handoff.hpp"
#include "net/sessions.hpp"
#include "net/ws_handshake.hpp"
#include "protocol/codec.hpp"
#include "protocol/ws_framer.hpp"
#include "protocol/ws_write_batch.hpp"

namespace im::net {

namespace {

// Close code for a client whose outbound queue overflowed: it is not reading.
constexpr uint16_t kTooSlowCloseCode = 1008;
// A write copies queued frames into one buffer while they fit in this many bytes (at least one
// frame, however large).
constexpr size_t kWriteBytes = 64 * 1024;
// The parser's buffer above this size is released between messages, so idle connections stay small.
constexpr size_t kKeepBufferBytes = 1024;
// How long the server's answer to the upgrade request may take to write.
constexpr auto kHandshakeWriteTimeout = std::chrono::seconds(5);

// The write batch of one I/O thread: a plain-TCP session copies queued frames into it and sends
// them at once, and nothing else runs on the thread in between.
ws::WriteBatch& thread_write_batch() {
  static thread_local ws::WriteBatch batch;
  return batch;
}

// The read buffer of one I/O thread (--read-turn-bytes): plain-TCP sessions read into it only
// once the socket is readable, and what a turn does not handle is copied out before the next read.
char* shared_read_buffer(size_t bytes) {
  static thread_local std::unique_ptr<char[]> buffer;
  static thread_local size_t size = 0;
  if (size < bytes) {
    buffer.reset(new char[bytes]);
    size = bytes;
  }
  return buffer.get();
}

template <class Stream>
class WsSession final : public Session,
                        public Closable,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(std::shared_ptr<SharedState> state, Stream stream, beast::flat_buffer leftover)
      : state_(std::move(state)),
        stream_(std::move(stream)),
        parser_(static_cast<uint64_t>(state_->options.max_frame_bytes)),
        leftover_(beast::buffers_to_string(leftover.cdata())),
        guard_(state_->options),
        turn_bytes_(static_cast<size_t>(std::max<int64_t>(1024, state_->options.read_turn_bytes))),
        turn_frames_max_(static_cast<size_t>(std::max<int64_t>(1, state_->options.read_turn_frames))),
        address_(peer_address(lowest_socket(stream_))) {}

  // Every WebSocket session was counted by the HTTP session that upgraded it (try_enter).
  ~WsSession() override {
    state_->connections_per_address.leave(address_);
    state_->leave(this);
  }

  void run(const http::request<http::string_body>& upgrade) {
    state_->join(this);
    if (state_->stopping) return shutdown_socket();  // joined after close_all(): it did not see us
    auto handshake = websocket_handshake(upgrade);
    auto response = std::make_shared<const std::string>(std::move(handshake.response));
    beast::get_lowest_layer(stream_).expires_after(kHandshakeWriteTimeout);
    asio::async_write(stream_, asio::buffer(*response),
                      [self = this->shared_from_this(), response, ok = handshake.ok](beast::error_code ec,
                                                                                    std::size_t) {
                        self->on_handshake_written(ec, ok);
                      });
  }

  // Session: called from actor threads. One posted drain moves a burst to the write queue.
  void send_frame(std::shared_ptr<const std::string> payload, bool binary) override {
    if (incoming_.add({std::move(payload), binary ? ws::Opcode::binary : ws::Opcode::text}))
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
    asio::post(executor, [self = std::move(self), code, reason] {
      self->begin_close(static_cast<uint16_t>(code), reason);
    });
  }

  void resume_reading() override {
    auto self = this->weak_from_this().lock();  // as in close(): the handler gets the reference
    if (!self) return;
    auto executor = stream_.get_executor();
    asio::post(executor, [self = std::move(self)] {
      if (!self->paused_) return;  // a close restarted reading already (queue_close())
      self->paused_ = false;
      self->paused_self_.reset();
      self->turn();
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
  void on_handshake_written(beast::error_code ec, bool ok) {
    beast::get_lowest_layer(stream_).expires_never();
    if (ec || !ok) {
      if (ec) fail(ec, "ws handshake");
      return shutdown_socket();
    }
    if constexpr (!is_tls<Stream>()) {
      // turn() reads what the socket has without waiting, and write_next() writes what the
      // socket takes at once.
      beast::error_code ec;
      lowest_socket(stream_).non_blocking(true, ec);
      writes_direct_ = !ec;
    }
    SessionInfo info{address_, is_tls<Stream>() ? "wss" : "ws"};
    link_ = state_->runtime.open_connection(this->weak_from_this(), std::move(info), Clock::now(), true);
    // Bytes that arrived behind the upgrade request, in the HTTP session's buffer, go first.
    stash_ = std::move(leftover_);
    turn();
  }

  // --- reading ---

  // One read turn: handles the bytes kept from an earlier turn or, when there are none, reads
  // once; at most turn_frames_max_ frames. Then schedule_next() decides how reading goes on.
  void turn() {
    if (finished_ || paused_ || input_ended_) return;
    turn_frames_ = 0;
    if (!stash_.empty()) {
      std::string_view input(stash_);
      if (!feed(input)) return;
      stash_.erase(0, stash_.size() - input.size());
      if (stash_.empty() && stash_.capacity() > kKeepBufferBytes) std::string().swap(stash_);
      return schedule_next();
    }
    if constexpr (is_tls<Stream>()) {
      return wait_input();
    } else {
      auto& socket = lowest_socket(stream_);
      char* buffer = shared_read_buffer(turn_bytes_);
      beast::error_code ec;
      size_t n = 0;
      do {
        n = socket.read_some(asio::buffer(buffer, turn_bytes_), ec);
      } while (ec == asio::error::interrupted);
      if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_input();
      if (ec) return on_read_error(ec);
      // A full buffer: the socket may hold more, read in the next turn.
      socket_has_more_ = n == turn_bytes_;
      handle_read({buffer, n});
    }
  }

  // Bytes just read: handled within the turn's budget, the rest kept for the next turn.
  void handle_read(std::string_view input) {
    if (!feed(input)) return;
    if (!input.empty()) stash_.assign(input.data(), input.size());
    schedule_next();
  }

  // After a turn: nothing while the inbound queue is full (resume_reading() starts the next
  // turn); a posted turn, behind the thread's other work, when bytes wait in `stash_` or the last
  // read filled the buffer; otherwise wait for the socket.
  void schedule_next() {
    if (finished_ || paused_ || input_ended_) return;
    if (!stash_.empty() || socket_has_more_) {
      socket_has_more_ = false;
      asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->turn(); });
      return;
    }
    wait_input();
  }

  // Plain TCP: waits until the socket is readable, then reads in turn(). TLS: reads through the
  // stream into the session's buffer (--read-turn-bytes at most).
  void wait_input() {
    if (finished_) return;
    if constexpr (is_tls<Stream>()) {
      auto size = std::min(kTlsReadBytes, turn_bytes_);
      if (!tls_read_buffer_) tls_read_buffer_.reset(new char[kTlsReadBytes]);
      stream_.async_read_some(asio::buffer(tls_read_buffer_.get(), size),
                              [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                                if (ec) return self->on_read_error(ec);
                                self->turn_frames_ = 0;
                                self->handle_read({self->tls_read_buffer_.get(), n});
                              });
    } else {
      lowest_socket(stream_).async_wait(tcp::socket::wait_read,
                                        [self = this->shared_from_this()](beast::error_code ec) {
                                          if (ec) return self->on_read_error(ec);
                                          self->turn();
                                        });
    }
  }

  void on_read_error(beast::error_code ec) {
    fail(ec, "ws read");
    finish();
  }

  // Parses from the front of `input` (advancing it) and hands every complete message on, until
  // the input is used up, the turn's frames are spent or the inbound queue is full. The pongs and
  // errors it queued leave together afterwards, in one write rather than one each. False once
  // the session stops reading.
  bool feed(std::string_view& input) {
    bool reading = parse(input);
    if (!reading) input_ended_ = true;
    if (!writing_) write_next();
    return reading;
  }

  bool parse(std::string_view& input) {
    while (!finished_) {
      if (paused_ || turn_frames_ >= turn_frames_max_) return true;
      auto event = parser_.next(input);
      switch (event.kind) {
        case ws::FrameParser::Kind::need_more:
          parser_.shrink(kKeepBufferBytes);
          return true;
        case ws::FrameParser::Kind::message:
          ++turn_frames_;
          if (!close_sent_) deliver(event.payload, event.binary);
          break;
        case ws::FrameParser::Kind::ping:
          ++turn_frames_;
          if (link_) link_->activity();
          if (close_sent_) break;
          if (!guard_.take_frame(Clock::now())) {
            state_->runtime.counters().frames_rate_limited++;  // no pong
            break;
          }
          queue_frame({std::make_shared<const std::string>(event.payload), ws::Opcode::pong});
          break;
        case ws::FrameParser::Kind::pong:
          ++turn_frames_;
          if (link_) link_->activity();
          break;
        case ws::FrameParser::Kind::close:
          on_peer_close(event.close_code);
          return false;
        case ws::FrameParser::Kind::error:
          // The rest of the stream cannot be framed: close without waiting for an answer.
          spdlog::debug("ws {}: {}, closing with {}", address_, event.error, event.close_code);
          reading_stopped_ = true;
          begin_close(event.close_code, event.error);
          return false;
      }
    }
    return false;
  }

  // A complete message: the rate limits first (net/flood_guard.hpp), then decoded and handed to
  // the connection actor; a full inbound queue pauses reading.
  void deliver(std::string_view payload, bool binary) {
    if (!encoding_known_) {  // the connection's encoding is its first message's (PROTOCOL.md 1)
      encoding_ = binary ? Encoding::msgpack : Encoding::json;
      encoding_known_ = true;
    }
    auto& counters = state_->runtime.counters();
    auto opcode = encoding_ == Encoding::msgpack ? ws::Opcode::binary : ws::Opcode::text;
    auto encoding = binary ? Encoding::msgpack : Encoding::json;
    auto admission = guard_.admit(payload, encoding, encoding_, static_cast<size_t>(state_->options.max_nesting),
                                  payload.size(), counters);
    if (admission.refusal) return queue_frame({std::move(admission.refusal), opcode});
    auto& decoded = admission.decoded;
    Inbound in;
    in.status = decoded.status;
    in.message = std::move(decoded.message);
    in.encoding = encoding;
    in.bytes = payload.size();
    if (decoded.status == DecodeStatus::ok)
      in.frame = std::make_shared<const nlohmann::json>(std::move(decoded.value));
    if (!link_->deliver(std::move(in))) {
      paused_ = true;
      paused_self_ = this->shared_from_this();  // no read is pending to hold the session meanwhile
      counters.reads_paused++;
    }
  }

  // The peer's close: answer it (unless we started the close) and end once the answer is out.
  void on_peer_close(uint16_t code) {
    peer_closed_ = true;
    if (!close_sent_) {
      // Echo the peer's code (RFC 6455 5.5.1); a close without one is answered without one.
      queue_close(code == ws::kNoStatus ? std::string() : ws::close_payload(code, ""));
    } else if (!writing_) {
      shutdown_socket();
    }
  }

  // --- writing ---

  void drain_incoming() {
    // All queued before the write: frames an actor sent in one turn (a send_ack and the echo
    // after it) leave in one write instead of one each.
    for (auto& frame : incoming_.take()) queue_frame(std::move(frame));
    if (!writing_) write_next();
  }

  // Queues a frame without starting a write; a client that lets the queue fill is disconnected.
  void queue_frame(ws::OutFrame frame) {
    if (close_sent_ || finished_) return;
    if (queue_.size() >= static_cast<size_t>(state_->options.send_queue_frames)) {
      spdlog::info("ws {}: client is not reading, disconnecting", address_);
      state_->runtime.counters().slow_client_closes++;
      queue_.clear();
      begin_close(kTooSlowCloseCode, "too slow");
      return;
    }
    queue_.push_back(std::move(frame));
  }

  void begin_close(uint16_t code, const std::string& reason) {
    if (close_sent_ || finished_) return;
    queue_close(ws::close_payload(code, reason));
  }

  // Queues our close frame behind the frames already queued; nothing is queued after it.
  void queue_close(std::string payload) {
    queue_.push_back({std::make_shared<const std::string>(std::move(payload)), ws::Opcode::close});
    close_sent_ = true;
    // The peer's close must still be read: reading goes on (messages are dropped from now on).
    if (paused_) {
      paused_ = false;
      asio::post(stream_.get_executor(), [self = std::move(paused_self_)] { self->turn(); });
    }
    // A close must not hang on a peer that stopped reading or never answers.
    close_timer_ = std::make_unique<asio::steady_timer>(
        stream_.get_executor(), std::chrono::milliseconds(state_->options.close_timeout_ms));
    close_timer_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->shutdown_socket();
    });
    if (!writing_) write_next();
  }

  // Writes the queued frames in batches: frames copied with their headers into one buffer
  // (ws::WriteBatch), up to kWriteBytes, and written at once.
  //
  // Plain TCP (write_direct()): the batch is the I/O thread's, sent right here with one
  // non-blocking send. Only when the socket does not take all of it (a client reading slower than
  // it is sent to) does the session wait for the socket to become writable: the frames sent stay
  // sent, the tail of a frame cut in two waits in `unsent_`, and the frames after it stay queued.
  // asio::async_write would send each batch of 32 gathered frames in sendmsgs of 16 buffers (8
  // frames), each completing through the I/O thread's queue and the strand, which imbench showed
  // costly. Copying a push (~150 bytes) costs far less.
  //
  // TLS (write_tls()): the batch is the session's own, since asio's async_write through the TLS
  // stream outlives this call; its frames leave the queue when the batch is made.
  void write_next() {
    if (writes_direct_) return write_direct();
    write_tls();
  }

  void write_direct() {
    while (!finished_ && !writing_) {
      if (!unsent_.empty()) {  // the rest of a frame cut by the last send
        size_t written = 0;
        if (!send_now(unsent_, written)) return;
        unsent_.erase(0, written);
        if (!unsent_.empty()) return wait_writable();
        std::string().swap(unsent_);
        bool close_written = unsent_is_close_;
        unsent_is_close_ = false;
        if (close_written && !after_close_written()) return;
        continue;
      }
      if (queue_.empty()) return release_idle_queue();
      auto& batch = thread_write_batch();
      batch.fill(queue_, kWriteBytes);
      size_t written = 0;
      if (!send_now(batch.bytes(), written)) return;
      bool all_sent = written == batch.bytes().size();
      // Frames wholly sent leave the queue; so does one cut in two, its tail kept in `unsent_`.
      auto progress = batch.after_send(written);
      size_t leaving = progress.whole;
      if (!progress.cut_tail.empty()) {
        unsent_.assign(progress.cut_tail);
        unsent_is_close_ = progress.cut_is_close;
        ++leaving;
      }
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(leaving));
      batch.trim(2 * kWriteBytes);
      if (progress.close_sent && !after_close_written()) return;
      if (!all_sent) return wait_writable();
    }
  }

  // Plain TCP: one non-blocking send of `bytes`; `written` is what the socket took (0 if it would
  // block). False if the connection failed (it is then shut down).
  bool send_now(std::string_view bytes, size_t& written) {
    beast::error_code ec;
    do {
      written = lowest_socket(stream_).write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    } while (ec == asio::error::interrupted);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      written = 0;
      return true;
    }
    if (ec) {
      fail(ec, "ws write");
      shutdown_socket();
      return false;
    }
    return true;
  }

  // Plain TCP: the socket took only part of what was queued; the rest goes when it can take more.
  void wait_writable() {
    state_->runtime.counters().socket_writes_blocked++;
    writing_ = true;
    auto resume = [self = this->shared_from_this()](beast::error_code ec) {
      self->writing_ = false;
      if (ec) {
        fail(ec, "ws write wait");
        return self->shutdown_socket();
      }
      self->write_next();
    };
    lowest_socket(stream_).async_wait(tcp::socket::wait_write, std::move(resume));
  }

  // TLS: the next batch through the stream, then the rest of the queue.
  void write_tls() {
    if (finished_ || writing_) return;
    if (queue_.empty()) {
      tls_batch_.reset();  // an idle connection holds no write buffer
      return release_idle_queue();
    }
    if (!tls_batch_) tls_batch_ = std::make_unique<ws::WriteBatch>();
    tls_batch_->fill(queue_, kWriteBytes);
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(tls_batch_->frames()));
    writing_ = true;
    asio::async_write(stream_, asio::buffer(tls_batch_->bytes()),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) {
                          fail(ec, "ws write");
                          return self->shutdown_socket();
                        }
                        auto& batch = *self->tls_batch_;
                        bool close_sent = batch.after_send(batch.bytes().size()).close_sent;
                        if (close_sent && !self->after_close_written()) return;
                        self->write_next();
                      });
  }

  // Our close frame is out. False if that ended the connection: the peer's close already came
  // (or never will).
  bool after_close_written() {
    if (peer_closed_ || reading_stopped_) {
      shutdown_socket();
      return false;
    }
    return true;
  }

  // Idle: gives back what a burst made the queue grow to.
  void release_idle_queue() {
    if (queue_.capacity() > 16) std::vector<ws::OutFrame>().swap(queue_);
  }

  // --- ending ---

  void shutdown_socket() {
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
    if (close_timer_) close_timer_->cancel();  // it holds this session
    if (link_) link_->closed();
    beast::error_code ignored;
    lowest_socket(stream_).close(ignored);
    queue_.clear();
  }

  static constexpr size_t kTlsReadBytes = 16 * 1024;

  std::shared_ptr<SharedState> state_;
  Stream stream_;
  ws::FrameParser parser_;
  std::string leftover_;  // client bytes read with the upgrade request
  FloodGuard guard_;
  const size_t turn_bytes_;       // --read-turn-bytes
  const size_t turn_frames_max_;  // --read-turn-frames
  size_t turn_frames_ = 0;        // frames handled in the current turn
  std::string stash_;             // bytes read and not yet handled (a turn ended, or reading paused)
  bool socket_has_more_ = false;  // the last read filled the buffer
  bool paused_ = false;           // the inbound queue is full: resume_reading() starts the next turn
  std::shared_ptr<WsSession> paused_self_;  // holds the session while paused (no read holds it)
  bool input_ended_ = false;      // a close or a framing error ended reading
  Encoding encoding_ = Encoding::json;  // the connection's, from its first message
  bool encoding_known_ = false;
  std::unique_ptr<char[]> tls_read_buffer_;  // TLS only: decrypted bytes land here
  std::unique_ptr<ConnectionLink> link_;
  std::string address_;  // counted in connections_per_address
  // Outbound, on the strand: frames waiting, and what is being written.
  std::vector<ws::OutFrame> queue_;
  std::unique_ptr<ws::WriteBatch> tls_batch_;  // TLS: the batch being written
  std::string unsent_;  // plain TCP: the tail of a frame the socket took only part of
  bool unsent_is_close_ = false;
  std::unique_ptr<asio::steady_timer> close_timer_;
  bool writing_ = false;  // a batch is waiting for the socket (or, on TLS, being written)
  bool writes_direct_ = false;  // plain TCP, non-blocking: write_next() sends itself
  bool close_sent_ = false;   // our close frame is queued or written: nothing more is queued
  bool peer_closed_ = false;  // the peer's close frame arrived
  bool reading_stopped_ = false;  // the stream broke the protocol: no close answer is awaited
  bool finished_ = false;
  FrameHandoff<ws::OutFrame> incoming_;  // from actor threads to the strand
};

}  // namespace

template <class Stream>
void start_websocket(std::shared_ptr<SharedState> state, Stream stream,
                     http::request<http::string_body> upgrade, beast::flat_buffer leftover) {
  std::make_shared<WsSession<Stream>>(std::move(state), std::move(stream), std::move(leftover))->run(upgrade);
}

template void start_websocket<PlainStream>(std::shared_ptr<SharedState>, PlainStream,
                                           http::request<http::string_body>, beast::flat_buffer);
template void start_websocket<TlsStream>(std::shared_ptr<SharedState>, TlsStream,
                                         http::request<http::string_body>, beast::flat_buffer);

}  // namespace im::net
