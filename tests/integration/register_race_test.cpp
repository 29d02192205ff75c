// PROTOCOL.md section 3: of any number of concurrent registrations of one name, exactly one gets
// 201, and the name then logs in with that registration's password. Runs the real imserver
// binary; every request is its own connection.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using nlohmann::json;

namespace {

// Releases every waiting thread at once, so that the requests overlap as much as they can.
class StartLine {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace

TEST_CASE("N concurrent registrations of one name: exactly one 201, and that password logs in") {
  imtest::TempDir data;
  imtest::ServerProcess server(data.path(), {"--password-hash-cost", "min", "--io-threads", "2", "--register-per-min-per-ip", "0",
                                             "--login-attempts-per-min", "0", "--login-attempts-per-min-per-ip", "0"});
  constexpr int kRounds = 5;
  constexpr int kClients = 20;
  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    auto name = imclient::unique_username("race");
    std::vector<imclient::HttpResponse> answers(kClients);
    StartLine start;
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i)
      threads.emplace_back([&, i] {
        json body{{"username", name}, {"password", "password-" + std::to_string(i)}};
        start.wait();
        answers[i] = imclient::http(server.endpoint, "POST", "/api/register", body.dump(), "", "application/json",
                                    std::chrono::seconds(30));
      });
    start.open();
    for (auto& t : threads) t.join();

    int created = 0, taken = 0, winner = -1;
    for (int i = 0; i < kClients; ++i) {
      if (answers[i].status == 201) {
        ++created;
        winner = i;
      } else if (answers[i].status == 409 && answers[i].json()["error"]["code"] == "username_taken") {
        ++taken;
      }
    }
    CHECK(created == 1);
    CHECK(taken == kClients - 1);
    REQUIRE(winner >= 0);
    auto user = answers[winner].json()["user"].get<uint64_t>();
    // The name belongs to the winner: its password logs in as its user, nobody else's does.
    auto login = imclient::login(server.endpoint, name, "password-" + std::to_string(winner));
    CHECK(login.user == user);
    auto loser = (winner + 1) % kClients;
    auto refused = imclient::http(server.endpoint, "POST", "/api/login",
                                  json{{"username", name}, {"password", "password-" + std::to_string(loser)}}.dump());
    CHECK(refused.status == 401);
  }
}
