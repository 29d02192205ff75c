// Bad input gets a clear error frame, an HTTP 4xx or a clean close; the server keeps serving.

#include <doctest/doctest.h>

#include <thread>

#include <boost/asio.hpp>

#include "support/test_server.hpp"

using imclient::Connection;
using imclient::Encoding;
using imclient::Transport;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

void expect_still_serving(imtest::TestServer& server, const imclient::Account& account) {
  auto conn = imclient::connect_authed(server.endpoint, account.token, "check-" + imclient::fresh_cid());
  conn->send({{"type", "ping"}});
  conn->expect("pong");
  CHECK(imclient::http(server.endpoint, "GET", "/healthz").status == 200);
}

// A plain socket for byte-level abuse.
struct RawSocket {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket{ioc};
  explicit RawSocket(uint16_t port) {
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  }
  void write(const std::string& bytes) { boost::asio::write(socket, boost::asio::buffer(bytes)); }
  // Reads until the server closes; returns everything it sent.
  std::string read_all(std::chrono::milliseconds timeout) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    socket.non_blocking(true);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      auto n = socket.read_some(boost::asio::buffer(buf), ec);
      if (ec == boost::asio::error::would_block) {
        socket.wait(boost::asio::socket_base::wait_read, ec);  // returns on data or close
        continue;
      }
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("malformed frames get bad_request and the connection stays open") {
  imtest::TestServer server;
  auto account = server.account();
  for (auto transport : {Transport::websocket, Transport::raw_tcp}) {
    CAPTURE(static_cast<int>(transport));
    auto conn = imclient::connect_authed(server.endpoint, account.token, "bad", nullptr, transport);
    const std::string inputs[] = {
        "{not json",
        "[1,2,3]",
        "42",
        "\"just a string\"",
        "{}",
        R"({"type":7})",
        R"({"type":"send","cid":5,"to":{"user":1},"body":{}})",
        R"({"type":"send","cid":"c","to":{"user":-1},"body":{}})",
        R"({"type":"send","cid":"c","to":{"user":99999999999999999999999},"body":{}})",
        R"({"type":"ack","useq":"seven"})",
        R"({"type":"sync","since":1.5})",
    };
    for (const auto& input : inputs) {
      CAPTURE(input);
      conn->send_text_raw(input);
      auto err = conn->expect("error");
      CHECK(err["code"] == "bad_request");
      CHECK(err["message"].get<std::string>().size() > 0);
    }
    conn->send({{"type", "ping"}});
    conn->expect("pong");
  }
}

TEST_CASE("invalid UTF-8: raw TCP gets bad_request, a WebSocket text frame closes with 1007") {
  imtest::TestServer server;
  auto account = server.account();
  const std::string bad = "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}";
  auto tcp = imclient::connect_authed(server.endpoint, account.token, "tcp", nullptr, Transport::raw_tcp);
  tcp->send_text_raw(bad);
  CHECK(tcp->expect("error")["code"] == "bad_request");
  tcp->send({{"type", "ping"}});
  tcp->expect("pong");
  // RFC 6455 section 8.1: a text frame that is not UTF-8 fails the WebSocket connection.
  auto ws = imclient::connect_authed(server.endpoint, account.token, "ws");
  ws->send_text_raw(bad);
  CHECK(ws->wait_closed(3s) == std::optional<int>(1007));
  // MessagePack strings are checked too: an error frame, the connection stays.
  auto mp = imclient::connect_authed(server.endpoint, account.token, "mp", nullptr, Transport::websocket,
                                     Encoding::msgpack);
  mp->send_bytes_raw(std::string("\x82\xa4type\xa4ping\xa1x\xa2\xff\xfe", 13));
  CHECK(mp->expect("error")["code"] == "bad_request");
  mp->send({{"type", "ping"}});
  mp->expect("pong");
  expect_still_serving(server, account);
}

TEST_CASE("oversize frames close with 1009") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_frame_bytes = 4096; });
  auto account = server.account();
  auto ws = imclient::connect_authed(server.endpoint, account.token, "ws");
  ws->send_text_raw(std::string(5000, 'x'));
  CHECK(ws->wait_closed(3s) == std::optional<int>(1009));

  auto tcp = imclient::connect_authed(server.endpoint, account.token, "tcp", nullptr, Transport::raw_tcp);
  tcp->send_text_raw(json{{"type", "ping"}, {"pad", std::string(5000, 'p')}}.dump());
  CHECK(tcp->wait_closed(3s) == std::optional<int>(1009));

  // A frame of exactly max_frame_bytes is fine.
  auto exact = imclient::connect_authed(server.endpoint, account.token, "exact", nullptr, Transport::raw_tcp);
  std::string frame = json{{"type", "ping"}, {"pad", ""}}.dump();
  frame = json{{"type", "ping"}, {"pad", std::string(4096 - frame.size(), 'p')}}.dump();
  REQUIRE(frame.size() == 4096);
  exact->send_text_raw(frame);
  exact->expect("pong");
  expect_still_serving(server, account);
}

TEST_CASE("a 4 GB raw TCP length prefix closes with 1009 without allocating it") {
  imtest::TestServer server;
  auto account = server.account();
  RawSocket sock(server.endpoint.port);
  sock.write(std::string("\xff\xff\xff\xff", 4));
  auto reply = sock.read_all(3s);
  REQUIRE(reply.size() > 4);
  auto close = json::parse(reply.substr(4));
  CHECK(close["type"] == "close");
  CHECK(close["code"] == 1009);
  expect_still_serving(server, account);
}

TEST_CASE("a zero-length raw TCP frame is a protocol violation (4000)") {
  imtest::TestServer server;
  RawSocket sock(server.endpoint.port);
  sock.write(std::string("\0\0\0\0", 4));
  auto reply = sock.read_all(3s);
  REQUIRE(reply.size() > 4);
  CHECK(json::parse(reply.substr(4))["code"] == 4000);
}

TEST_CASE("half-sent HTTP requests are dropped after the timeout; others are served meanwhile") {
  imtest::TestServer server([](im::ServerOptions& o) { o.http_timeout_ms = 300; });
  auto account = server.account();
  RawSocket half(server.endpoint.port);
  half.write("POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"user");
  expect_still_serving(server, account);
  auto start = std::chrono::steady_clock::now();
  half.read_all(3s);  // returns when the server drops the socket
  CHECK(std::chrono::steady_clock::now() - start < 2s);

  RawSocket garbage(server.endpoint.port);
  garbage.write("GET / HTTP/9\x01\r\n\r\n");
  auto reply = garbage.read_all(3s);
  CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
}

TEST_CASE("thousands of connections dropped abruptly leave the server serving") {
  imtest::TestServer server;
  auto account = server.account();
  std::vector<std::unique_ptr<Connection>> conns;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 500; ++i) {
      auto transport = i % 2 ? Transport::raw_tcp : Transport::websocket;
      conns.push_back(Connection::open(server.endpoint, transport, Encoding::json));
      if (i % 3 == 0) conns.back()->send_text_raw("{\"type\":\"au");  // cut mid-frame
    }
    for (auto& c : conns) c->abort();
    conns.clear();
  }
  // Authenticated ones too, cut after auth.
  for (int i = 0; i < 200; ++i)
    imclient::connect_authed(server.endpoint, account.token, "drop" + std::to_string(i))->abort();
  expect_still_serving(server, account);
  // Every connection actor went away: the open-connections gauge drops back.
  bool drained = false;
  for (int i = 0; i < 100 && !drained; ++i) {
    auto metrics = imclient::http(server.endpoint, "GET", "/metrics").body;
    drained = metrics.find("imserver_connections_open 0\n") != std::string::npos;
    if (!drained) std::this_thread::sleep_for(50ms);
  }
  CHECK(drained);
}

TEST_CASE("a flood of frames gets rate_limited errors, not a crash") {
  imtest::TestServer server([](im::ServerOptions& o) { o.rate_frames_per_s = 50; });
  auto account = server.account();
  auto conn = imclient::connect_authed(server.endpoint, account.token, "flood");
  for (int i = 0; i < 300; ++i) conn->send({{"type", "ping"}});
  int pongs = 0, limited = 0;
  while (auto f = conn->next(500ms)) {
    if ((*f)["type"] == "pong") ++pongs;
    if ((*f)["type"] == "error" && (*f)["code"] == "rate_limited") ++limited;
  }
  CHECK(pongs >= 50);
  CHECK(pongs < 300);
  CHECK(limited > 0);
  CHECK(pongs + limited == 300);
}
