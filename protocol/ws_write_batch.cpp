#include "protocol/ws_write_batch.hpp"

#include <cassert>

namespace im::ws {

void WriteBatch::fill(const std::vector<OutFrame>& queue, size_t max_bytes) {
  bytes_.clear();
  frame_ends_.clear();
  ends_with_close_ = false;
  for (const auto& frame : queue) {
    unsigned char header[10];
    auto header_size = encode_header(frame.op, frame.payload->size(), header);
    if (!frame_ends_.empty() && bytes_.size() + header_size + frame.payload->size() > max_bytes) break;
    bytes_.append(reinterpret_cast<const char*>(header), header_size);
    bytes_.append(*frame.payload);
    frame_ends_.push_back(bytes_.size());
    if (frame.op == Opcode::close) {
      ends_with_close_ = true;
      break;
    }
  }
}

WriteBatch::Progress WriteBatch::after_send(size_t written) const {
  assert(written <= bytes_.size());
  Progress progress;
  while (progress.whole < frame_ends_.size() && frame_ends_[progress.whole] <= written) ++progress.whole;
  bool last_is_next = progress.whole + 1 == frame_ends_.size();
  progress.close_sent = ends_with_close_ && progress.whole == frame_ends_.size();
  size_t next_start = progress.whole > 0 ? frame_ends_[progress.whole - 1] : 0;
  if (progress.whole < frame_ends_.size() && written > next_start) {
    auto next_end = frame_ends_[progress.whole];
    progress.cut_tail = std::string_view(bytes_).substr(written, next_end - written);
    progress.cut_is_close = ends_with_close_ && last_is_next;
  }
  return progress;
}

void WriteBatch::trim(size_t keep_bytes) {
  if (bytes_.capacity() <= keep_bytes) return;
  std::string().swap(bytes_);
  frame_ends_.clear();
  ends_with_close_ = false;
}

}  // namespace im::ws
