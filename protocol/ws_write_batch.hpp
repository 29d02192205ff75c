#pragma once
// Server frames waiting to be written on one WebSocket connection, and the batching of them into
// one send. The session copies frames from the front of its queue, with their headers, into one
// buffer and sends it with one syscall; if the socket takes only part, after_send() says which
// frames are out, and which one was cut in two. Pure code: no sockets.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ws_framer.hpp"

namespace im::ws {

// One server frame waiting to be written. Payloads are shared: a push to many connections is
// serialized once.
struct OutFrame {
  std::shared_ptr<const std::string> payload;
  Opcode op = Opcode::text;
};

class WriteBatch {
 public:
  // Copies frames from the front of `queue`, each with its header, while they fit in `max_bytes`
  // (always at least one, however large), stopping after a close frame. `queue` is not changed.
  void fill(const std::vector<OutFrame>& queue, size_t max_bytes);

  const std::string& bytes() const { return bytes_; }
  size_t frames() const { return frame_ends_.size(); }

  // What a send that took the first `written` bytes of bytes() completed.
  struct Progress {
    size_t whole = 0;            // frames wholly sent, from the front of the batch
    bool close_sent = false;     // the batch's close frame is among them
    std::string_view cut_tail;   // if the send ended inside a frame: the bytes of it not sent
    bool cut_is_close = false;   // that frame is the close frame
  };
  Progress after_send(size_t written) const;

  // Frees the buffer if one huge frame made it grow past `keep_bytes` (the batch is then empty).
  void trim(size_t keep_bytes);

 private:
  std::string bytes_;
  std::vector<size_t> frame_ends_;  // where each frame ends in bytes_
  bool ends_with_close_ = false;    // a close frame is always the last of its batch
};

}  // namespace im::ws
