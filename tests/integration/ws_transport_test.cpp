// The WebSocket transport byte by byte: the opening handshake and RFC 6455 framing as the server
// does them itself (net/ws_handshake.cpp, protocol/ws_framer.hpp), driven over a plain socket with
// hand-made, masked client frames. Every wait is bounded by a deadline; nothing sleeps.

#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include <boost/asio.hpp>

#include "integration/ops_support.hpp"
#include "support/test_server.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr uint8_t kContinuation = 0, kText = 1, kClose = 8, kPing = 9, kPong = 10;
constexpr auto kWait = 5s;  // the most any expected answer may take

// The example key of RFC 6455 section 1.3 and its accept value.
const std::string kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
const std::string kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A client frame: FIN, opcode, then the payload masked with a fixed, non-trivial key (or sent
// unmasked when `mask` is false, which a client must never do).
std::string masked_frame(uint8_t opcode, std::string_view payload, bool fin = true, bool mask = true) {
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

std::string close_body(uint16_t code, std::string_view reason = "") {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
  return out;
}

std::string upgrade_request(const std::optional<std::string>& key = kRfcKey,
                            const std::string& version = "13") {
  std::string req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  if (key) req += "Sec-WebSocket-Key: " + *key + "\r\n";
  req += "Sec-WebSocket-Version: " + version + "\r\n\r\n";
  return req;
}

std::string auth_frame(const std::string& token, const std::string& device) {
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
class RawWs {
 public:
  // `receive_buffer` (bytes, if set) is the socket's SO_RCVBUF, set before connecting so that the
  // TCP window stays that small: the server's writes then block as soon as this side stops reading.
  explicit RawWs(uint16_t port, int receive_buffer = 0) {
    socket_.open(boost::asio::ip::tcp::v4());
    if (receive_buffer > 0) socket_.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer));
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    socket_.set_option(boost::asio::ip::tcp::no_delay(true));
  }

  void write(const std::string& bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes)); }

  bool eof() const { return eof_; }

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
  // Reads what is there, waiting at most until `deadline`. False on deadline or EOF.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_) return false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return false;
      pollfd p{socket_.native_handle(), POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char buf[16 * 1024];
      boost::system::error_code ec;
      auto n = socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec) {  // eof, or a reset: the connection is over either way
        eof_ = true;
        return false;
      }
      buf_.append(buf, n);
      return true;
    }
  }

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

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_{ioc_};
  std::string buf_;
  bool eof_ = false;
};

std::string app_ping(const std::string& rid) { return json{{"type", "ping"}, {"rid", rid}}.dump(); }

// The value of a counter in GET /metrics.
uint64_t metric(const imclient::Endpoint& endpoint, const std::string& name) {
  auto text = imclient::http(endpoint, "GET", "/metrics").body;
  auto pos = text.find("\n" + name + " ");
  REQUIRE_MESSAGE(pos != std::string::npos, name);
  return std::stoull(text.substr(pos + name.size() + 2));
}

// More pong bytes (10 MB) than the socket buffers on the way hold: the kernel grows a send buffer
// to 4 MiB at most here (net.ipv4.tcp_wmem), and the client's small receive buffer keeps its TCP
// window small. So a client that does not read makes the server's writes block.
constexpr int kFloodPings = 80000;
constexpr size_t kPingBytes = 125;  // the largest control frame payload

// Ping `i` of the flood: its index, padded to kPingBytes.
std::string flood_payload(int i) {
  std::string payload = std::to_string(i) + ":";
  payload.resize(kPingBytes, 'x');
  return payload;
}

// Writes the whole flood of pings without reading anything.
void send_flood(RawWs& ws) {
  std::string flood;
  flood.reserve(static_cast<size_t>(kFloodPings) * (kPingBytes + 8));
  for (int i = 0; i < kFloodPings; ++i) flood += masked_frame(kPing, flood_payload(i));
  ws.write(flood);
}

}  // namespace

TEST_CASE("handshake: the RFC 6455 key gets its accept value; bad requests get 400 or 426") {
  imtest::TestServer server;

  SUBCASE("the RFC example key") {
    RawWs ws(server.endpoint.port);
    ws.write(upgrade_request());
    auto head = ws.read_http_head();
    REQUIRE(head);
    CHECK(head->status == 101);
    CHECK(head->header("Sec-WebSocket-Accept") == kRfcAccept);
    std::string upgrade = head->header("Upgrade");
    std::transform(upgrade.begin(), upgrade.end(), upgrade.begin(), [](unsigned char c) { return std::tolower(c); });
    CHECK(upgrade == "websocket");
    // Then the first frame: auth_required, unmasked, as text.
    auto first = ws.next_frame();
    REQUIRE(first);
    CHECK_FALSE(first->masked);
    CHECK(first->fin);
    CHECK(first->is_text_type("auth_required"));
  }

  SUBCASE("no Sec-WebSocket-Key: 400, then the connection closes") {
    RawWs ws(server.endpoint.port);
    ws.write(upgrade_request(std::nullopt));
    auto head = ws.read_http_head();
    REQUIRE(head);
    CHECK(head->status == 400);
    std::string body;
    CHECK(ws.wait_eof(kWait, &body));  // the body (the reason), then EOF
    CHECK(body.size() == std::stoul(head->header("Content-Length")));  // nothing after the body
    CHECK(body.find("Sec-WebSocket-Key") != std::string::npos);
  }

  SUBCASE("Sec-WebSocket-Version 12: 426 naming version 13") {
    RawWs ws(server.endpoint.port);
    ws.write(upgrade_request(kRfcKey, "12"));
    auto head = ws.read_http_head();
    REQUIRE(head);
    CHECK(head->status == 426);
    CHECK(head->header("Sec-WebSocket-Version") == "13");
    CHECK(head->header("Sec-WebSocket-Accept").empty());
  }
}

TEST_CASE("bytes in the same write as the upgrade request are not lost") {
  imtest::TestServer server;
  auto account = server.account();
  RawWs ws(server.endpoint.port);
  ws.write(upgrade_request() + auth_frame(account.token, "same-write"));
  auto head = ws.read_http_head();
  REQUIRE(head);
  REQUIRE(head->status == 101);
  std::vector<Frame> before;
  auto ok = ws.wait_for_type("auth_ok", &before);
  REQUIRE(ok);
  CHECK(ok->body()["device"] == "same-write");
  // auth_required came first (it is sent at once on the upgrade).
  REQUIRE(!before.empty());
  CHECK(before.front().is_text_type("auth_required"));
  for (const auto& f : before) CHECK(f.is_text_type("auth_required"));
  // And the connection works.
  ws.write(masked_frame(kText, app_ping("after")));
  auto pong = ws.wait_for_type("pong");
  REQUIRE(pong);
  CHECK(pong->body()["rid"] == "after");
}

TEST_CASE("a ping frame gets a pong frame with the same payload") {
  imtest::TestServer server;
  auto account = server.account();
  RawWs ws(server.endpoint.port);
  ws.open_authed(account.token, "pinger");
  ws.write(masked_frame(kPing, "hi"));
  auto pong = ws.wait_for([](const Frame& f) { return f.opcode == kPong; });
  REQUIRE(pong);
  CHECK(pong->payload == "hi");
  CHECK(pong->fin);
  CHECK_FALSE(pong->masked);
}

TEST_CASE("a ping frame before auth gets its pong too") {
  imtest::TestServer server;
  RawWs ws(server.endpoint.port);
  ws.upgrade();
  ws.write(masked_frame(kPing, "early"));
  auto pong = ws.wait_for([](const Frame& f) { return f.opcode == kPong; });
  REQUIRE(pong);
  CHECK(pong->payload == "early");
}

TEST_CASE("a fragmented text message with a ping between the fragments is one message") {
  imtest::TestServer server;
  auto account = server.account();
  RawWs ws(server.endpoint.port);
  ws.open_authed(account.token, "frag");
  const std::string message = app_ping("fragmented");
  const std::string part1 = message.substr(0, 5), part2 = message.substr(5, 10), part3 = message.substr(15);
  REQUIRE(part1 + part2 + part3 == message);

  SUBCASE("all in one write") {
    ws.write(masked_frame(kText, part1, false) + masked_frame(kContinuation, part2, false) +
             masked_frame(kPing, "mid") + masked_frame(kContinuation, part3, true));
    bool got_ws_pong = false, got_app_pong = false;
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!(got_ws_pong && got_app_pong)) {
      auto f = ws.next_frame(deadline);
      REQUIRE(f);
      if (f->opcode == kPong) {
        CHECK(f->payload == "mid");
        CHECK_FALSE(got_app_pong);  // the message was only complete after the ping
        got_ws_pong = true;
      } else if (f->is_text_type("pong")) {
        CHECK(f->body()["rid"] == "fragmented");
        got_app_pong = true;
      } else if (f->is_text_type("error")) {
        FAIL("error frame: " << f->payload);
      }
    }
  }

  SUBCASE("fragments in separate writes, the last one after the ping's pong came back") {
    ws.write(masked_frame(kText, part1, false));
    ws.write(masked_frame(kContinuation, part2, false));
    ws.write(masked_frame(kPing, "mid"));
    // The pong proves the server has read up to here: the message is still incomplete.
    std::vector<Frame> before;
    auto pong = ws.wait_for([](const Frame& f) { return f.opcode == kPong; }, &before);
    REQUIRE(pong);
    CHECK(pong->payload == "mid");
    for (const auto& f : before) CHECK_MESSAGE(!f.is_text_type("pong"), f.payload);
    ws.write(masked_frame(kContinuation, part3, true));
    std::vector<Frame> skipped;
    auto app = ws.wait_for_type("pong", &skipped);
    REQUIRE(app);
    CHECK(app->body()["rid"] == "fragmented");
    for (const auto& f : skipped) CHECK_MESSAGE(!f.is_text_type("error"), f.payload);
  }

  // Either way the connection goes on.
  ws.write(masked_frame(kText, app_ping("next")));
  auto next = ws.wait_for_type("pong");
  REQUIRE(next);
  CHECK(next->body()["rid"] == "next");
}

TEST_CASE("an unmasked client frame gets close 1002, then the TCP connection ends") {
  imtest::TestServer server;
  auto account = server.account();
  RawWs ws(server.endpoint.port);
  ws.open_authed(account.token, "unmasked");
  ws.write(masked_frame(kText, app_ping("x"), true, false));
  auto close = ws.wait_for([](const Frame& f) { return f.opcode == kClose; });
  REQUIRE(close);
  CHECK(close->close_code() == std::optional<uint16_t>(1002));
  std::string extra;
  CHECK(ws.wait_eof(kWait, &extra));
  CHECK(extra.empty());
}

TEST_CASE("an unmasked frame before auth also gets close 1002") {
  imtest::TestServer server;
  RawWs ws(server.endpoint.port);
  ws.upgrade();
  ws.write(masked_frame(kPing, "x", true, false));
  auto close = ws.wait_for([](const Frame& f) { return f.opcode == kClose; });
  REQUIRE(close);
  CHECK(close->close_code() == std::optional<uint16_t>(1002));
  CHECK(ws.wait_eof());
}

TEST_CASE("a client close 1000 is answered with close 1000, then the TCP connection ends") {
  imtest::TestServer server;
  auto account = server.account();
  RawWs ws(server.endpoint.port);
  ws.open_authed(account.token, "closer");
  ws.write(masked_frame(kClose, close_body(1000, "bye")));
  auto close = ws.wait_for([](const Frame& f) { return f.opcode == kClose; });
  REQUIRE(close);
  CHECK(close->close_code() == std::optional<uint16_t>(1000));
  CHECK(close->fin);
  CHECK_FALSE(close->masked);
  std::string extra;
  CHECK(ws.wait_eof(kWait, &extra));
  CHECK(extra.empty());
}

TEST_CASE("a close frame without a body is answered by one without a body") {
  imtest::TestServer server;
  auto account = server.account();
  RawWs ws(server.endpoint.port);
  ws.open_authed(account.token, "bare-close");
  ws.write(masked_frame(kClose, ""));
  auto close = ws.wait_for([](const Frame& f) { return f.opcode == kClose; });
  REQUIRE(close);
  CHECK(close->payload.empty());
  CHECK(ws.wait_eof());
}

TEST_CASE("many frames in one write all get their answers, in order") {
  imtest::TestServer server;
  auto account = server.account();
  RawWs ws(server.endpoint.port);
  ws.open_authed(account.token, "burst");
  constexpr int kCount = 50;
  std::string burst;
  for (int i = 0; i < kCount; ++i) burst += masked_frame(kText, app_ping("p" + std::to_string(i)));
  ws.write(burst);
  auto deadline = std::chrono::steady_clock::now() + kWait;
  int next = 0;
  while (next < kCount) {
    auto f = ws.next_frame(deadline);
    REQUIRE_MESSAGE(f, "only " << next << " pongs of " << kCount);
    if (f->is_text_type("auth_required")) continue;
    REQUIRE_MESSAGE(f->is_text_type("pong"), f->payload);
    CHECK(f->body()["rid"] == "p" + std::to_string(next));
    ++next;
  }
  CHECK(next == kCount);
}

TEST_CASE("a client that reads slower than it is sent to gets every frame whole and in order") {
  // Nothing is dropped while the queue has room: the writes that block wait for the socket.
  imtest::TestServer server([](im::ServerOptions& o) {
    o.rate_frames_per_s = 0;
    o.send_queue_frames = 2 * kFloodPings;
  });
  auto account = server.account();
  auto blocked_before = metric(server.endpoint, "imserver_socket_writes_blocked_total");
  RawWs ws(server.endpoint.port, 4096);
  ws.open_authed(account.token, "slow-reader");
  send_flood(ws);
  // Reading starts once a write of the server's had to wait (otherwise this tested nothing).
  REQUIRE(opstest::eventually(
      [&] { return metric(server.endpoint, "imserver_socket_writes_blocked_total") > blocked_before; }, 4 * kWait));
  auto deadline = std::chrono::steady_clock::now() + 4 * kWait;
  for (int i = 0; i < kFloodPings; ++i) {
    auto f = ws.next_frame(deadline);
    REQUIRE_MESSAGE(f, "only " << i << " pongs of " << kFloodPings);
    REQUIRE(f->opcode == kPong);
    REQUIRE(f->payload == flood_payload(i));
  }
  // The connection still works.
  ws.write(masked_frame(kText, app_ping("after")));
  auto pong = ws.wait_for_type("pong");
  REQUIRE(pong);
  CHECK(pong->body()["rid"] == "after");
}

TEST_CASE("a client that stops reading is closed with 1008 once its queue is full, after what it was sent") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.rate_frames_per_s = 0;
    o.send_queue_frames = 256;
    // The close frame waits behind megabytes this client reads only after its flood: on a busy
    // machine that could take longer than the default 5 s the server allows before it drops the
    // connection without a close frame.
    o.ws_close_timeout_ms = 60000;
  });
  auto account = server.account();
  RawWs ws(server.endpoint.port, 4096);
  ws.open_authed(account.token, "stalled");
  send_flood(ws);
  REQUIRE(opstest::eventually([&] { return metric(server.endpoint, "imserver_slow_client_closes_total") == 1; },
                              4 * kWait));
  // What reached the socket before the queue overflowed arrives whole and in order, then the
  // close: the queued frames were dropped and nothing follows the close.
  auto deadline = std::chrono::steady_clock::now() + 4 * kWait;
  int pongs = 0;
  std::optional<Frame> close;
  while (auto f = ws.next_frame(deadline)) {
    if (f->opcode == kClose) {
      close = std::move(f);
      break;
    }
    REQUIRE(f->opcode == kPong);
    REQUIRE(f->payload == flood_payload(pongs));
    ++pongs;
  }
  REQUIRE_MESSAGE(close, "no close frame after " << pongs << " pongs");
  CHECK(close->close_code() == 1008);
  CHECK(pongs < kFloodPings);
  ws.write(masked_frame(kClose, close_body(1008)));
  std::string extra;
  CHECK(ws.wait_eof(kWait, &extra));
  CHECK(extra.empty());
}
