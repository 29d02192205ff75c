#include "protocol/ws_framer.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/codec.hpp"

namespace im::ws {

namespace {

// Header length implied by the second header byte (mask bit and 7-bit length).
size_t header_size(unsigned char b1) {
  size_t n = 2;
  unsigned len7 = b1 & 0x7F;
  if (len7 == 126) n += 2;
  else if (len7 == 127) n += 8;
  if (b1 & 0x80) n += 4;
  return n;
}

// dst[i] = src[i] ^ key[(offset + i) % 4], eight bytes at a time.
void unmask(char* dst, const char* src, size_t n, const unsigned char key[4], uint64_t offset) {
  unsigned char k[8];
  for (size_t i = 0; i < 8; ++i) k[i] = key[(offset + i) & 3];
  uint64_t k64;
  std::memcpy(&k64, k, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, src + i, 8);
    w ^= k64;
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<char>(src[i] ^ static_cast<char>(k[i & 7]));
}

bool is_control(uint8_t op) { return (op & 0x08) != 0; }

}  // namespace

bool is_valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

FrameParser::FrameParser(uint64_t max_message_bytes) : max_(max_message_bytes) {}

FrameParser::Event FrameParser::fail(uint16_t code, const char* why) {
  failed_ = true;
  error_code_ = code;
  error_ = why;
  Event ev;
  ev.kind = Kind::error;
  ev.close_code = code;
  ev.error = error_;
  return ev;
}

FrameParser::Event FrameParser::check_first_bytes() {
  const unsigned char b0 = hdr_[0], b1 = hdr_[1];
  const uint8_t op = b0 & 0x0F;
  if (b0 & 0x70) return fail(kProtocolError, "reserved bits set");
  if (op != 0 && op != 1 && op != 2 && op != 8 && op != 9 && op != 10)
    return fail(kProtocolError, "unknown opcode");
  if (!(b1 & 0x80)) return fail(kProtocolError, "unmasked client frame");
  if (is_control(op)) {
    if (!(b0 & 0x80)) return fail(kProtocolError, "fragmented control frame");
    if ((b1 & 0x7F) > 125) return fail(kProtocolError, "control frame longer than 125 bytes");
  } else if (op == 0 && !in_message_) {
    return fail(kProtocolError, "continuation frame without a message");
  } else if (op != 0 && in_message_) {
    return fail(kProtocolError, "new message inside a fragmented message");
  }
  return {};
}

void FrameParser::gather_header(std::string_view& input, size_t want) {
  const size_t n = std::min<size_t>(want - hdr_len_, input.size());
  if (n == 0) return;  // input.data() may be null
  std::memcpy(hdr_ + hdr_len_, input.data(), n);
  hdr_len_ += n;
  input.remove_prefix(n);
}

FrameParser::Event FrameParser::next(std::string_view& input) {
  if (failed_) {
    Event ev;
    ev.kind = Kind::error;
    ev.close_code = error_code_;
    ev.error = error_;
    return ev;
  }
  if (delivered_) {  // the caller is done with the last message; keep the capacity
    msg_.clear();
    delivered_ = false;
  }
  for (;;) {
    if (!in_payload_) {
      // Gather the two fixed bytes and judge them before waiting for the rest of the header.
      if (hdr_len_ < 2) {
        gather_header(input, 2);
        if (hdr_len_ < 2) return {};
        if (Event ev = check_first_bytes(); ev.kind == Kind::error) return ev;
      }
      const size_t need = header_size(hdr_[1]);
      gather_header(input, need);
      if (hdr_len_ < need) return {};

      fin_ = (hdr_[0] & 0x80) != 0;
      opcode_ = hdr_[0] & 0x0F;
      const unsigned len7 = hdr_[1] & 0x7F;
      size_t pos = 2;
      if (len7 == 126) {
        frame_len_ = (uint64_t{hdr_[2]} << 8) | hdr_[3];
        pos = 4;
      } else if (len7 == 127) {
        frame_len_ = 0;
        for (size_t i = 2; i < 10; ++i) frame_len_ = (frame_len_ << 8) | hdr_[i];
        pos = 10;
        if (frame_len_ >> 63) return fail(kProtocolError, "64-bit frame length has its top bit set");
      } else {
        frame_len_ = len7;
      }
      std::memcpy(mask_, hdr_ + pos, 4);
      hdr_len_ = 0;
      // Size limit from the header, before buffering anything: msg_ holds the earlier fragments.
      if (!is_control(opcode_) && frame_len_ > max_ - std::min<uint64_t>(max_, msg_.size()))
        return fail(kTooBig, "message too big");
      if (opcode_ != 0 && !is_control(opcode_)) msg_binary_ = opcode_ == 2;
      in_payload_ = true;
      frame_got_ = 0;
    }

    // Unmask whatever part of the payload is here straight into its destination: one copy.
    const size_t n = static_cast<size_t>(std::min<uint64_t>(frame_len_ - frame_got_, input.size()));
    if (n > 0) {
      char* dst;
      if (is_control(opcode_)) {
        dst = ctrl_ + frame_got_;
      } else {
        const size_t old = msg_.size();
        msg_.resize(old + n);
        dst = msg_.data() + old;
      }
      unmask(dst, input.data(), n, mask_, frame_got_);
      frame_got_ += n;
      input.remove_prefix(n);
    }
    if (frame_got_ < frame_len_) return {};
    in_payload_ = false;
    bool done = true;
    Event ev = finish_frame(done);
    if (done) return ev;
  }
}

FrameParser::Event FrameParser::finish_frame(bool& done) {
  Event ev;
  const auto len = static_cast<size_t>(frame_len_);
  switch (static_cast<Opcode>(opcode_)) {
    case Opcode::ping:
    case Opcode::pong:
      ev.kind = opcode_ == 9 ? Kind::ping : Kind::pong;
      ev.payload = std::string_view(ctrl_, len);
      return ev;
    case Opcode::close: {
      ev.kind = Kind::close;
      if (len == 0) {
        ev.close_code = kNoStatus;
        return ev;
      }
      if (len == 1) return fail(kProtocolError, "close frame with a 1-byte body");
      ev.close_code = static_cast<uint16_t>((static_cast<unsigned char>(ctrl_[0]) << 8) |
                                            static_cast<unsigned char>(ctrl_[1]));
      if (!is_valid_close_code(ev.close_code)) return fail(kProtocolError, "invalid close code");
      ev.payload = std::string_view(ctrl_ + 2, len - 2);
      if (!is_valid_utf8(ev.payload)) return fail(kInvalidPayload, "close reason is not UTF-8");
      return ev;
    }
    default:  // data frames (opcodes were checked with the first header bytes)
      break;
  }
  if (!fin_) {
    in_message_ = true;
    done = false;
    return ev;
  }
  in_message_ = false;
  if (!msg_binary_ && !is_valid_utf8(msg_)) return fail(kInvalidPayload, "text message is not UTF-8");
  delivered_ = true;
  ev.kind = Kind::message;
  ev.binary = msg_binary_;
  ev.payload = msg_;
  return ev;
}

void FrameParser::shrink(size_t keep_bytes) {
  if (in_message_ || (in_payload_ && !is_control(opcode_))) return;
  msg_.clear();
  delivered_ = false;
  if (msg_.capacity() > keep_bytes) std::string().swap(msg_);
}

size_t encode_header(Opcode op, uint64_t size, unsigned char out[10]) {
  out[0] = static_cast<unsigned char>(0x80 | static_cast<uint8_t>(op));
  if (size < 126) {
    out[1] = static_cast<unsigned char>(size);
    return 2;
  }
  if (size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(size >> 8);
    out[3] = static_cast<unsigned char>(size);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(size >> (56 - 8 * i));
  return 10;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  size_t cut = std::min<size_t>(reason.size(), 123);
  // Never split a UTF-8 sequence: back up while the first dropped byte is a continuation byte.
  if (cut < reason.size())
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
  std::string out;
  out.reserve(2 + cut);
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason.substr(0, cut));
  return out;
}

}  // namespace im::ws
