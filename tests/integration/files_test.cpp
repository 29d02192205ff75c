// PROTOCOL.md section 3: file upload (POST /api/files) and download (GET /files/<id>).

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include <boost/asio.hpp>

#include "support/postgres.hpp"
#include "support/test_server.hpp"

using imclient::http;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kMaxFileBytes = 4096;

std::string binary_bytes(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + 7) % 256);
  return out;
}

// Uploads and returns the url (expects 201).
std::string upload(const imtest::TestServer& server, const std::string& token, const std::string& bytes,
                   const std::string& type) {
  auto res = http(server.endpoint, "POST", "/api/files", bytes, token, type);
  REQUIRE_MESSAGE(res.status == 201, res.body);
  auto url = res.json()["url"].get<std::string>();
  REQUIRE(url.rfind("/files/", 0) == 0);
  return url;
}

// One raw HTTP exchange: writes `request`, reads until the server closes.
std::string raw_exchange(const imclient::Endpoint& endpoint, const std::string& request) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address(endpoint.host), endpoint.port});
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(request), ec);
  std::string answer;
  char buffer[4096];
  for (;;) {
    auto n = socket.read_some(asio::buffer(buffer), ec);
    answer.append(buffer, n);
    if (ec) break;
  }
  return answer;
}

}  // namespace

TEST_CASE("files: upload and download round trip with the content type, bearer or ?token=") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_file_bytes = kMaxFileBytes; });
  auto alice = server.account("alice"), bob = server.account("bob");
  auto bytes = binary_bytes(1000);
  auto url = upload(server, alice.token, bytes, "image/png");
  auto id = url.substr(7);
  CHECK(id.size() == 32);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);

  // Any logged-in user may fetch it (the url is shared in a message).
  auto got = http(server.endpoint, "GET", url, "", bob.token);
  CHECK(got.status == 200);
  CHECK(got.content_type == "image/png");
  CHECK(got.body == bytes);
  auto by_query = http(server.endpoint, "GET", url + "?token=" + bob.token);
  CHECK(by_query.status == 200);
  CHECK(by_query.body == bytes);

  // Two uploads of the same bytes get different ids.
  CHECK(upload(server, alice.token, bytes, "image/png") != url);
  // No Content-Type: stored as application/octet-stream.
  auto plain = http(server.endpoint, "POST", "/api/files", "abc", alice.token, "");
  REQUIRE(plain.status == 201);
  CHECK(http(server.endpoint, "GET", plain.json()["url"].get<std::string>(), "", alice.token).content_type == "application/octet-stream");

  // On LevelDB stored under <data-dir>/files/<id>, no temporary file left behind; on PostgreSQL
  // in the database, nothing in the data directory.
  auto dir = std::filesystem::path(server.options.data_dir) / "files";
  if (imtest::on_postgres()) {
    CHECK_FALSE(std::filesystem::exists(dir));
  } else {
    CHECK(std::filesystem::file_size(dir / id) == bytes.size());
    for (auto& entry : std::filesystem::directory_iterator(dir))
      CHECK(entry.path().extension() != ".tmp");
  }

  // It survives a restart.
  server.restart();
  auto after = http(server.endpoint, "GET", url, "", alice.token);
  CHECK(after.status == 200);
  CHECK(after.body == bytes);
  CHECK(after.content_type == "image/png");
}

TEST_CASE("files: 401 without a valid token, 404 for unknown ids") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_file_bytes = kMaxFileBytes; });
  auto alice = server.account("alice");
  auto url = upload(server, alice.token, "hello", "text/plain");

  auto anonymous_upload = http(server.endpoint, "POST", "/api/files", "hello", "", "text/plain");
  CHECK(anonymous_upload.status == 401);
  CHECK(anonymous_upload.json()["error"]["code"] == "unauthorized");
  CHECK(http(server.endpoint, "POST", "/api/files", "hello", "bad-token", "text/plain").status == 401);
  CHECK(http(server.endpoint, "GET", url).status == 401);
  CHECK(http(server.endpoint, "GET", url, "", "bad-token").status == 401);
  CHECK(http(server.endpoint, "GET", url + "?token=bad-token").status == 401);
  CHECK(http(server.endpoint, "GET", url + "?token=").status == 401);
  // A logged-out token stops working here too.
  auto brief = server.account("brief");
  REQUIRE(http(server.endpoint, "POST", "/api/logout", "", brief.token).status == 204);
  CHECK(http(server.endpoint, "GET", url + "?token=" + brief.token).status == 401);

  auto unknown = http(server.endpoint, "GET", "/files/0123456789abcdef0123456789abcdef", "", alice.token);
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["error"]["code"] == "not_found");
  CHECK(http(server.endpoint, "GET", "/files/..%2Fdb%2FCURRENT", "", alice.token).status == 404);
  CHECK(http(server.endpoint, "GET", "/files/nope", "", alice.token).status == 404);
  // The download answer is marked so a browser never runs an upload as the site's page.
  auto html = upload(server, alice.token, "<script>alert(1)</script>", "text/html");
  auto answer = raw_exchange(server.endpoint, "GET " + html + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                                  alice.token + "\r\nConnection: close\r\n\r\n");
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(answer.find("Content-Security-Policy: sandbox\r\n") != std::string::npos);
  CHECK(answer.find("X-Content-Type-Options: nosniff\r\n") != std::string::npos);
}

TEST_CASE("files: exactly max_file_bytes is accepted, one byte more gets 413") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_file_bytes = kMaxFileBytes; });
  auto alice = server.account("alice");
  auto exact = binary_bytes(kMaxFileBytes);
  auto url = upload(server, alice.token, exact, "application/octet-stream");
  CHECK(http(server.endpoint, "GET", url, "", alice.token).body == exact);

  auto over = http(server.endpoint, "POST", "/api/files", binary_bytes(kMaxFileBytes + 1), alice.token,
                   "application/octet-stream");
  CHECK(over.status == 413);
  CHECK(over.json()["error"]["code"] == "too_large");

  // Far over the limit, announced by Content-Length: the server answers 413 before reading the
  // body and drains what the client still sends, so the answer reaches it intact.
  auto huge = http(server.endpoint, "POST", "/api/files", std::string(16 << 20, 'x'), alice.token,
                   "application/octet-stream", 20s);
  CHECK(huge.status == 413);
  CHECK(huge.json()["error"]["code"] == "too_large");

  // Chunked, without a Content-Length: refused once the body passes the limit.
  std::string chunk(kMaxFileBytes + 1, 'y');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  auto answer = raw_exchange(server.endpoint,
                             "POST /api/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice.token +
                                 "\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                 size_line + chunk + "\r\n0\r\n\r\n");
  CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);

  // The server is fine afterwards, and JSON routes keep their own 64 KiB limit.
  CHECK(http(server.endpoint, "GET", "/healthz").status == 200);
  CHECK(http(server.endpoint, "POST", "/api/login", std::string(kMaxFileBytes + 1, ' ')).status == 400);
}

TEST_CASE("files: a client that sends Expect: 100-continue gets 100 Continue, then 201; over the limit 413 at once") {
  namespace asio = boost::asio;
  imtest::TestServer server([](im::ServerOptions& o) { o.max_file_bytes = kMaxFileBytes; });
  auto alice = server.account("alice");
  auto headers = [&](size_t length) {
    return "POST /api/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice.token +
           "\r\nContent-Type: text/plain\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: " +
           std::to_string(length) + "\r\n\r\n";
  };
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address(server.endpoint.host), server.endpoint.port});
  asio::write(socket, asio::buffer(headers(5)));
  std::string interim;
  asio::read_until(socket, asio::dynamic_buffer(interim), "\r\n\r\n");
  CHECK(interim.rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
  asio::write(socket, asio::buffer(std::string("hello")));
  boost::system::error_code ec;
  std::string rest = interim.substr(interim.find("\r\n\r\n") + 4);
  asio::read(socket, asio::dynamic_buffer(rest), ec);
  CHECK(rest.rfind("HTTP/1.1 201", 0) == 0);

  // Over the limit: the answer is 413 without the client sending the body.
  auto refused = raw_exchange(server.endpoint, headers(kMaxFileBytes + 1));
  CHECK(refused.rfind("HTTP/1.1 413", 0) == 0);
}

TEST_CASE("files: the default limit is 10 MiB") {
  CHECK(im::ServerOptions{}.max_file_bytes == 10 * 1024 * 1024);
}
