#include "frame_scan.hpp"

#include <cstddef>
#include <cstring>

#include "protocol/codec.hpp"

namespace imbench {

namespace {

// Deeper nesting is refused rather than recursed into.
constexpr int kMaxDepth = 64;

// A recursive-descent reader of RFC 8259 JSON over one string_view. Every method returns false on
// malformed input and leaves the position after what it read.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool frame(Frame& out) {
    skip_ws();
    if (!object(0, [&](std::string_view key) { return top_member(key, out); })) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  // Reads an object, calling member(key) with the position at the member's value; member reads
  // the value and returns whether it was well formed.
  template <class Member>
  bool object(int depth, Member&& member) {
    if (depth > kMaxDepth || !eat('{')) return false;
    skip_ws();
    if (eat('}')) return true;
    std::string key;
    for (;;) {
      skip_ws();
      key.clear();
      if (!string(&key)) return false;
      skip_ws();
      if (!eat(':')) return false;
      skip_ws();
      if (!member(std::string_view(key))) return false;
      skip_ws();
      if (eat('}')) return true;
      if (!eat(',')) return false;
    }
  }

  bool top_member(std::string_view key, Frame& out) {
    if (key == "type") return string_or_skip(&out.type);
    if (key == "cid") return string_or_skip(&out.cid);
    if (key == "code") return string_or_skip(&out.code);
    if (key == "conv") return string_or_skip(&out.conv);
    if (key == "useq") return unsigned_or_skip(&out.useq);
    if (key == "from") return unsigned_or_skip(&out.from);
    if (key == "body") {
      out.body_int_count = 0;  // a repeated "body" replaces the earlier one, whatever its type
      if (peek() == '{') return object(1, [&](std::string_view name) { return body_member(name, out); });
    }
    return value(1);
  }

  bool body_member(std::string_view name, Frame& out) {
    bool is_integer = false;
    int64_t v = 0;
    if (peek() != '-' && (peek() < '0' || peek() > '9')) return value(2);
    if (!number(&is_integer, &v)) return false;
    if (!is_integer || name.size() > Frame::kBodyNameBytes) return true;
    Frame::BodyInt* slot = nullptr;
    for (size_t i = 0; i < out.body_int_count && !slot; ++i)
      if (name == out.body_ints[i].name) slot = &out.body_ints[i];  // repeated: the last one counts
    if (!slot) {
      if (out.body_int_count == Frame::kBodyInts) return true;
      slot = &out.body_ints[out.body_int_count++];
      std::memcpy(slot->name, name.data(), name.size());
      slot->name[name.size()] = '\0';
    }
    slot->value = v;
    return true;
  }

  // A repeated member: the last one counts, as in a DOM.
  bool string_or_skip(std::string* out) {
    out->clear();
    return peek() == '"' ? string(out) : value(1);
  }

  bool unsigned_or_skip(uint64_t* out) {
    *out = 0;
    if (peek() < '0' || peek() > '9') return value(1);
    bool is_integer = false;
    int64_t v = 0;
    if (!number(&is_integer, &v)) return false;
    if (is_integer && v >= 0) *out = static_cast<uint64_t>(v);
    return true;
  }

  // Any value, skipped.
  bool value(int depth) {
    if (depth > kMaxDepth) return false;
    switch (peek()) {
      case '{':
        return object(depth, [&](std::string_view) { return value(depth + 1); });
      case '[':
        return array(depth);
      case '"':
        return string(nullptr);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default: {
        bool is_integer = false;
        int64_t ignored = 0;
        return number(&is_integer, &ignored);
      }
    }
  }

  bool array(int depth) {
    if (!eat('[')) return false;
    skip_ws();
    if (eat(']')) return true;
    for (;;) {
      skip_ws();
      if (!value(depth + 1)) return false;
      skip_ws();
      if (eat(']')) return true;
      if (!eat(',')) return false;
    }
  }

  // A string; decoded into *out unless out is null. Its bytes must be well-formed UTF-8: each run
  // between escapes is checked whole (an escape or the closing quote is ASCII, so a run boundary
  // never splits a valid sequence).
  bool string(std::string* out) {
    static constexpr std::string_view kEscaped = "\"\\/bfnrt", kMeaning = "\"\\/\b\f\n\r\t";
    if (!eat('"')) return false;
    for (;;) {
      const char* run = p_;
      bool ascii = true;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\') {
        auto c = static_cast<unsigned char>(*p_++);
        if (c < 0x20) return false;
        ascii = ascii && c < 0x80;
      }
      std::string_view bytes(run, static_cast<size_t>(p_ - run));
      if (!ascii && !im::is_valid_utf8(bytes)) return false;
      if (out) out->append(bytes);
      if (p_ == end_) return false;
      if (*p_++ == '"') return true;
      if (p_ == end_) return false;
      char c = *p_++;
      if (c != 'u') {
        auto at = kEscaped.find(c);
        if (at == std::string_view::npos) return false;
        if (out) out->push_back(kMeaning[at]);
        continue;
      }
      uint32_t cp = 0;
      if (!hex4(&cp)) return false;
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: its low half must follow
        uint32_t low = 0;
        if (!eat('\\') || !eat('u') || !hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return false;
      }
      if (out) append_utf8(*out, cp);
    }
  }

  bool hex4(uint32_t* cp) {
    if (end_ - p_ < 4) return false;
    for (int i = 0; i < 4; ++i) {
      char c = *p_++;
      uint32_t digit;
      if (c >= '0' && c <= '9') digit = static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') digit = static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') digit = static_cast<uint32_t>(c - 'A' + 10);
      else return false;
      *cp = (*cp << 4) | digit;
    }
    return true;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // A number per the JSON grammar. *is_integer: no fraction or exponent and it fits in int64
  // (then *v holds it).
  bool number(bool* is_integer, int64_t* v) {
    bool negative = eat('-');
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    bool fits = true;
    uint64_t magnitude = 0;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
        auto digit = static_cast<uint64_t>(*p_++ - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) fits = false;
        else magnitude = magnitude * 10 + digit;
      }
    }
    bool integral = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      integral = false;
      if (!digits()) return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      integral = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    auto limit = negative ? uint64_t(INT64_MAX) + 1 : uint64_t(INT64_MAX);
    *is_integer = integral && fits && magnitude <= limit;
    if (*is_integer)
      *v = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
    return true;
  }

  bool digits() {
    const char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ > start;
  }

  bool literal(const char* word) {
    auto n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  char peek() const { return p_ < end_ ? *p_ : '\0'; }
  bool eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

int64_t Frame::body_int(std::string_view name, int64_t fallback) const {
  for (size_t i = 0; i < body_int_count; ++i)
    if (name == body_ints[i].name) return body_ints[i].value;
  return fallback;
}

bool scan_frame(std::string_view text, Frame& frame) {
  frame.type.clear();
  frame.cid.clear();
  frame.code.clear();
  frame.conv.clear();
  frame.useq = frame.from = 0;
  frame.body_int_count = 0;
  return Scanner(text).frame(frame);
}

}  // namespace imbench
