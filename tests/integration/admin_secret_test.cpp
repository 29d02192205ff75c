// The admin token need not be on the command line (which every local user can read in the process
// list): --admin-token-file PATH, or the environment variable IMSERVER_ADMIN_TOKEN. Runs the real
// imserver binary.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "client/client.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

namespace {

// The process's command line as `ps` shows it (arguments joined by spaces).
std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::stringstream text;
  text << in.rdbuf();
  auto line = text.str();
  for (auto& c : line)
    if (c == '\0') c = ' ';
  return line;
}

int admin_status(const imclient::Endpoint& e, const std::string& token) {
  return imclient::http(e, "GET", "/admin/status", "", token).status;
}

}  // namespace

TEST_CASE("--admin-token-file: the admin API takes the file's token, which is not in the process list") {
  imtest::TempDir data;
  const std::string token = "file-token-" + imclient::fresh_cid();
  auto path = data.path() + "/admin-token";
  std::ofstream(path) << "  " << token << "\n";  // surrounding whitespace and the newline are not part of it
  imtest::ServerProcess server(data.path(), {"--admin-token-file", path, "--password-hash-cost", "min"});
  CHECK(admin_status(server.endpoint, token) == 200);
  CHECK(admin_status(server.endpoint, token + "x") == 403);
  CHECK(admin_status(server.endpoint, "") == 401);
  auto cmdline = command_line(server.pid());
  CHECK(cmdline.find("--admin-token-file") != std::string::npos);
  CHECK(cmdline.find(token) == std::string::npos);
}

TEST_CASE("IMSERVER_ADMIN_TOKEN: the admin API takes the environment's token") {
  imtest::TempDir data;
  const std::string token = "env-token-" + imclient::fresh_cid();
  setenv("IMSERVER_ADMIN_TOKEN", token.c_str(), 1);
  imtest::ServerProcess server(data.path(), {"--password-hash-cost", "min"});
  unsetenv("IMSERVER_ADMIN_TOKEN");
  CHECK(admin_status(server.endpoint, token) == 200);
  CHECK(admin_status(server.endpoint, "wrong") == 403);
  CHECK(command_line(server.pid()).find(token) == std::string::npos);
}

TEST_CASE("--admin-token-file: a missing or empty file, or both token flags, stop the server with exit code 2") {
  imtest::TempDir data;
  auto empty = data.path() + "/empty";
  std::ofstream(empty) << " \n";
  auto good = data.path() + "/good";
  std::ofstream(good) << "t0ken\n";
  const std::string dir = " --data-dir " + data.path() + "/db --port 0";
  for (auto args : {"--admin-token-file " + data.path() + "/missing", "--admin-token-file " + empty,
                    "--admin-token-file " + good + " --admin-token other"}) {
    CAPTURE(args);
    auto r = imtest::run_imserver(args + dir);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("admin-token-file") != std::string::npos);
  }
}
