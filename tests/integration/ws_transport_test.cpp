// The WebSocket transport byte by byte: the opening handshake and RFC 6455 framing as the server
// does them itself (net/ws_handshake.cpp, protocol/ws_framer.hpp), driven over a plain socket with
// hand-made, masked client frames. Every wait is bounded by a deadline; nothing sleeps.

#include <doctest/doctest.h>

#include "support/raw_ws.hpp"
#include "support/test_server.hpp"

using nlohmann::json;
using namespace rawws;

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
