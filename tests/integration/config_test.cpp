// PROTOCOL.md section 9: flags, --config, exit code 2 naming a bad or unknown flag. Runs the real
// imserver binary as a subprocess.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "support/server_process.hpp"
#include "support/test_server.hpp"

TEST_CASE("an unknown flag stops the server with exit code 2, naming it") {
  auto r = imtest::run_imserver("--no-such-flag");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("no-such-flag") != std::string::npos);
}

TEST_CASE("a bad value stops the server with exit code 2, naming the flag") {
  const char* cases[][2] = {
      {"--port notanumber", "port"},
      {"--ack-window 0", "ack-window"},
      {"--max-devices -1", "max-devices"},
      {"--password-hash-cost cheap", "password-hash-cost"},
      {"--log-level loud", "log-level"},
      {"--heartbeat-ms 1.5", "heartbeat-ms"},
      {"--port 70000", "port"},
      {"--max-nesting 0", "max-nesting"},
      {"--max-nesting 1001", "max-nesting"},
      {"--tls-cert /tmp/x.pem", "tls"},
  };
  for (auto& c : cases) {
    CAPTURE(c[0]);
    auto r = imtest::run_imserver(c[0]);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(c[1]) != std::string::npos);
  }
}

TEST_CASE("--help lists every flag of PROTOCOL.md section 9") {
  auto r = imtest::run_imserver("--help");
  CHECK(r.exit_code == 0);
  for (auto flag : {"--auth-timeout-ms", "--auth-reminder-ms", "--heartbeat-ms", "--idle-timeout-ms", "--ack-timeout-ms",
                    "--max-retries", "--ack-window", "--reorder-ms", "--recall-window-ms", "--max-devices",
                    "--max-body-bytes", "--max-file-bytes", "--max-frame-bytes", "--max-nesting", "--dedup-retention-s",
                    "--inbox-retention-days", "--inbox-max-events", "--token-ttl-s", "--rate-sends-per-s",
                    "--rate-frames-per-s", "--password-hash-cost", "--port", "--bind", "--data-dir", "--admin-token",
                    "--admin-bind", "--tls-cert", "--tls-key", "--fsync", "--log-level", "--config"}) {
    CAPTURE(flag);
    CHECK(r.output.find(flag) != std::string::npos);
  }
}

TEST_CASE("--config: bad files and unknown keys exit 2") {
  imtest::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() + "/" + name) << text;
    return dir.path() + "/" + name;
  };
  auto not_json = write("a.json", "{nope");
  auto unknown = write("b.json", R"({"no-such-key": 1})");
  auto wrong_type = write("c.json", R"({"heartbeat-ms": "fast"})");
  CHECK(imtest::run_imserver("--config " + not_json).exit_code == 2);
  auto r = imtest::run_imserver("--config " + unknown);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("no-such-key") != std::string::npos);
  r = imtest::run_imserver("--config " + wrong_type);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("heartbeat-ms") != std::string::npos);
  CHECK(imtest::run_imserver("--config " + dir.path() + "/missing.json").exit_code == 2);
}

TEST_CASE("--config values apply, flags win, SIGTERM exits 0") {
  imtest::TempDir dir;
  std::ofstream(dir.path() + "/conf.json") << R"({"heartbeat-ms": 777, "auth_reminder_ms": 4321, "password-hash-cost": "min"})";
  {
    imtest::ServerProcess server(dir.path(), {"--config", dir.path() + "/conf.json"});
    auto account = imclient::register_and_login(server.endpoint, "cfguser", "password123");
    nlohmann::json ok;
    imclient::connect_authed(server.endpoint, account.token, "d", &ok);
    CHECK(ok["heartbeat_ms"] == 777);
    CHECK(server.stop(SIGTERM) == 0);
  }
  {
    imtest::ServerProcess server(dir.path(), {"--config", dir.path() + "/conf.json", "--heartbeat-ms", "999"});
    auto account = imclient::login(server.endpoint, "cfguser", "password123");
    nlohmann::json ok;
    auto conn = imclient::connect_authed(server.endpoint, account.token, "d", &ok);
    CHECK(ok["heartbeat_ms"] == 999);
    CHECK(server.stop(SIGINT) == 0);
    CHECK(conn->wait_closed(std::chrono::seconds(3)) == std::optional<int>(1001));
  }
}

TEST_CASE("--ws-close-timeout-ms, the former name of --close-timeout-ms, is still accepted") {
  imtest::TempDir dir;
  imtest::ServerProcess server(dir.path(), {"--ws-close-timeout-ms", "2000", "--password-hash-cost", "min"});
  CHECK(imclient::http(server.endpoint, "GET", "/healthz").status == 200);
  CHECK(server.stop(SIGTERM) == 0);
}

TEST_CASE("ws_close_timeout_ms, the former config key of close_timeout_ms, is still accepted") {
  imtest::TempDir dir;
  std::ofstream(dir.path() + "/conf.json") << R"({"ws_close_timeout_ms": 2000, "password-hash-cost": "min"})";
  imtest::ServerProcess server(dir.path(), {"--config", dir.path() + "/conf.json", "--close-timeout-ms", "3000"});
  CHECK(imclient::http(server.endpoint, "GET", "/healthz").status == 200);
  CHECK(server.stop(SIGTERM) == 0);
}
