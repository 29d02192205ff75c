#pragma once
// WebSocket framing, server side of RFC 6455 with no extensions: an incremental parser of
// client-to-server frames and the encoders for server frames. Pure code; the session owns the
// socket and writes frames in batches (protocol/ws_write_batch.hpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace im::ws {

enum class Opcode : uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes (RFC 6455 7.4.1). kNoStatus is never sent: it reports a close frame without a body.
constexpr uint16_t kNormalClosure = 1000, kProtocolError = 1002, kNoStatus = 1005,
                   kInvalidPayload = 1007, kTooBig = 1009;

// True for a code a peer may put in a close frame: 1000-1003, 1007-1011, 3000-4999.
bool is_valid_close_code(uint16_t code);

// Incremental parser of client-to-server frames. Feed it whatever bytes arrived; it returns one
// event at a time. Data frames are unmasked and reassembled across continuation frames into one
// message; control frames (ping/pong/close) may arrive between fragments and are returned alone.
// Every violation is Kind::error with the close code to send; the parser then stays in error and
// returns the same event on every later call without consuming input.
class FrameParser {
 public:
  explicit FrameParser(uint64_t max_message_bytes);

  enum class Kind { need_more, message, ping, pong, close, error };
  struct Event {
    Kind kind = Kind::need_more;
    bool binary = false;       // message: binary (true) or text (valid UTF-8)
    std::string_view payload;  // message/ping/pong: valid until the next call to next() or
                               // shrink(); close: the reason text (valid UTF-8)
    uint16_t close_code = 0;   // close: the peer's code (kNoStatus if the frame had no body);
                               // error: the code to close with
    std::string error;         // error: a short human reason for logs
  };

  // Consumes bytes from the front of `input` (advancing it) until one event is complete or the
  // input is exhausted (then need_more, with `input` empty). Call again with the rest of `input`
  // after any other event: several events may be waiting in one read.
  Event next(std::string_view& input);

  // Between messages, frees the reassembly buffer if its capacity grew beyond `keep_bytes`, so an
  // idle connection holds no large buffer. No-op while a message is partly received.
  void shrink(size_t keep_bytes);

  // Bytes held by the reassembly buffer (for tests and memory accounting).
  size_t buffer_capacity() const { return msg_.capacity(); }

  bool failed() const { return failed_; }

 private:
  Event fail(uint16_t code, const char* why);
  void gather_header(std::string_view& input, size_t want);  // copies up to `want` header bytes
  Event check_first_bytes();     // error or need_more (meaning: fine)
  Event finish_frame(bool& done);  // done=false: a non-final fragment, keep reading

  uint64_t max_;
  // The frame being read.
  unsigned char hdr_[14] = {};
  size_t hdr_len_ = 0;       // header bytes gathered so far; 0 once the header is complete
  bool in_payload_ = false;  // header complete, reading the payload
  uint8_t opcode_ = 0;
  bool fin_ = false;
  unsigned char mask_[4] = {0, 0, 0, 0};
  uint64_t frame_len_ = 0;
  uint64_t frame_got_ = 0;
  // The message being reassembled (data frames) and the control frame payload (never > 125).
  bool in_message_ = false;  // a fragmented message has started and is not finished
  bool msg_binary_ = false;
  bool delivered_ = false;   // msg_ holds the last message returned; clear it on the next call
  std::string msg_;
  char ctrl_[125] = {};
  // Sticky error.
  bool failed_ = false;
  uint16_t error_code_ = 0;
  std::string error_;
};

// Writes the header of an unmasked server frame with FIN set into `out` (at most 10 bytes, the
// shortest length encoding); returns its length.
size_t encode_header(Opcode op, uint64_t payload_size, unsigned char out[10]);

// The payload of a close frame: the 2-byte big-endian code then `reason`, truncated on a UTF-8
// character boundary so the payload stays <= 125 bytes.
std::string close_payload(uint16_t code, std::string_view reason);

}  // namespace im::ws
