#pragma once
// A WebSocket client made by hand over a plain socket, for tests of the transport itself: masked
// frames built byte by byte, the opening handshake, and reads bounded by deadlines (poll), so that
// nothing sleeps. Used by test_ws_transport and test_ws_backpressure.

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/raw_socket.hpp"

namespace rawws {

using nlohmann::json;

inline constexpr uint8_t kContinuation = 0, kText = 1, kClose = 8, kPing = 9, kPong = 10;
inline constexpr std::chrono::milliseconds kWait{5000};  // the most any expected answer may take

// The example key of RFC 6455 section 1.3 and its accept value.
inline const std::string kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
inline const std::string kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A client frame: FIN, opcode, then the payload masked with a fixed, non-trivial key (or sent
// unmasked when `mask` is false, which a client must never do).
inline std::string masked_frame(uint8_t opcode, std::string_view payload, bool fin = true, bool mask = true) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | opcode));
  const unsigned char mask_bit = mask ? 0x80 : 0x00;
  const uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (mask) out.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out.push_back(mask ? static_cast<char>(payload[i] ^ static_cast<char>(key[i % 4])) : payload[i]);
  return out;
}

inline std::string close_body(uint16_t code, std::string_view reason = "") {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
  return out;
}

inline std::string upgrade_request(const std::optional<std::string>& key = kRfcKey,
                            const std::string& version = "13") {
  std::string req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  if (key) req += "Sec-WebSocket-Key: " + *key + "\r\n";
  req += "Sec-WebSocket-Version: " + version + "\r\n\r\n";
  return req;
}

inline std::string auth_frame(const std::string& token, const std::string& device) {
  return masked_frame(kText, json{{"type", "auth"}, {"token", token}, {"device", device}}.dump());
}

// A server frame as received.
struct Frame {
  bool fin = false;
  bool masked = false;
  uint8_t opcode = 0;
  std::string payload;

  json body() const { return json::parse(payload); }
  bool is_text_type(const std::string& type) const {
    if (opcode != kText) return false;
    auto j = json::parse(payload, nullptr, false);
    return j.is_object() && j.value("type", "") == type;
  }
  // Close frames: the code, or nullopt for a close frame without a body.
  std::optional<uint16_t> close_code() const {
    if (payload.size() < 2) return std::nullopt;
    return static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                 static_cast<unsigned char>(payload[1]));
  }
};

// An HTTP response head: status and headers (names lower-cased).
struct HttpHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string name) const {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
};

// A plain socket speaking WebSocket by hand. Reads are bounded by deadlines (poll), and the bytes
// received are kept so that one read may hold an HTTP response and frames behind it.
class RawWs : public rawsock::RawSocket {
 public:
  using RawSocket::RawSocket;

  // The response head up to the blank line; the bytes after it stay buffered. nullopt on
  // deadline or EOF first.
  std::optional<HttpHead> read_http_head(std::chrono::milliseconds timeout = kWait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(deadline)) return std::nullopt;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    HttpHead out;
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) == 0) out.status = std::atoi(status_line.c_str() + 9);
    while (line_end != std::string::npos) {
      size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      out.headers.emplace_back(name, line.substr(v));
    }
    return out;
  }

  // The next server frame; nullopt on deadline or EOF first.
  std::optional<Frame> next_frame(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (auto frame = parse_frame()) return frame;
      if (!fill(deadline)) return std::nullopt;
    }
  }
  std::optional<Frame> next_frame(std::chrono::milliseconds timeout = kWait) {
    return next_frame(std::chrono::steady_clock::now() + timeout);
  }

  // Reads frames until one matches `wanted`; the ones before it are appended to `skipped`.
  template <class Pred>
  std::optional<Frame> wait_for(Pred wanted, std::vector<Frame>* skipped = nullptr,
                                std::chrono::milliseconds timeout = kWait) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (auto frame = next_frame(deadline)) {
      if (wanted(*frame)) return frame;
      if (skipped) skipped->push_back(std::move(*frame));
    }
    return std::nullopt;
  }
  std::optional<Frame> wait_for_type(const std::string& type, std::vector<Frame>* skipped = nullptr) {
    return wait_for([&](const Frame& f) { return f.is_text_type(type); }, skipped);
  }

  // True once the server ended the TCP connection (EOF or reset) within the timeout; `extra`
  // gets the bytes received and not yet parsed.
  bool wait_eof(std::chrono::milliseconds timeout = kWait, std::string* extra = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_)
      if (!fill(deadline)) break;
    if (extra) *extra = buf_;
    return eof_;
  }

  // Upgrade, then read the 101 and the auth_required frame.
  void upgrade() {
    write(upgrade_request());
    auto head = read_http_head();
    REQUIRE(head);
    REQUIRE(head->status == 101);
    REQUIRE(wait_for_type("auth_required"));
  }

  // Upgrade and authenticate.
  void open_authed(const std::string& token, const std::string& device) {
    upgrade();
    write(auth_frame(token, device));
    auto ok = wait_for_type("auth_ok");
    REQUIRE(ok);
    CHECK(ok->body()["device"] == device);
  }

 private:
  // One complete frame from the front of the buffer, if there is one.
  std::optional<Frame> parse_frame() {
    if (buf_.size() < 2) return std::nullopt;
    auto byte = [&](size_t i) { return static_cast<unsigned char>(buf_[i]); };
    Frame f;
    f.fin = (byte(0) & 0x80) != 0;
    f.opcode = byte(0) & 0x0F;
    f.masked = (byte(1) & 0x80) != 0;
    uint64_t len = byte(1) & 0x7F;
    size_t pos = 2;
    if (len == 126) {
      if (buf_.size() < 4) return std::nullopt;
      len = (uint64_t{byte(2)} << 8) | byte(3);
      pos = 4;
    } else if (len == 127) {
      if (buf_.size() < 10) return std::nullopt;
      len = 0;
      for (size_t i = 2; i < 10; ++i) len = (len << 8) | byte(i);
      pos = 10;
    }
    unsigned char key[4] = {0, 0, 0, 0};
    if (f.masked) {
      if (buf_.size() < pos + 4) return std::nullopt;
      for (size_t i = 0; i < 4; ++i) key[i] = byte(pos + i);
      pos += 4;
    }
    if (buf_.size() < pos + len) return std::nullopt;
    f.payload = buf_.substr(pos, static_cast<size_t>(len));
    if (f.masked)
      for (size_t i = 0; i < f.payload.size(); ++i) f.payload[i] = static_cast<char>(f.payload[i] ^ key[i % 4]);
    buf_.erase(0, pos + static_cast<size_t>(len));
    return f;
  }

};

inline std::string app_ping(const std::string& rid) { return json{{"type", "ping"}, {"rid", rid}}.dump(); }

}  // namespace rawws
