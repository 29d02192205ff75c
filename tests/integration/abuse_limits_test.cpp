// Consent and abuse limits (issue 20): nobody is put in a group by a user they blocked (403
// blocked); group creations, users added to groups and friend requests are rate-limited per user,
// registrations per client address (429 rate_limited); failed-login limits count an attempt before
// its password is hashed. Over real sockets, in-process and against the binary.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "integration/ops_support.hpp"
#include "support/group_helpers.hpp"
#include "support/server_process.hpp"
#include "support/social_helpers.hpp"

using imtest::api;
using nlohmann::json;

namespace {

imclient::HttpResponse register_call(const imclient::Endpoint& e, const std::string& name) {
  return imclient::http(e, "POST", "/api/register", json{{"username", name}, {"password", "password123"}}.dump());
}

std::vector<uint64_t> ids(const std::vector<imclient::Account>& accounts) {
  std::vector<uint64_t> out;
  for (auto& a : accounts) out.push_back(a.user);
  return out;
}

}  // namespace

TEST_CASE("a user who blocked someone cannot be put in a group by them: 403 blocked, nothing written") {
  imtest::TestServer server;
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol");
  REQUIRE(imclient::http(server.endpoint, "PUT", "/api/blocks/" + std::to_string(alice.user), "", bob.token).status == 204);

  // At creation: the whole group is refused, carol is in no group.
  auto created = api(server.endpoint, "POST", "/api/groups", alice,
                     json{{"name", "trap"}, {"members", {carol.user, bob.user}}});
  CHECK(created.status == 403);
  CHECK(created.body["error"]["code"] == "blocked");
  CHECK(api(server.endpoint, "GET", "/api/groups", alice).body["groups"].empty());
  CHECK(api(server.endpoint, "GET", "/api/groups", carol).body["groups"].empty());
  CHECK(api(server.endpoint, "GET", "/api/groups", bob).body["groups"].empty());

  // As an addition: refused, the members are unchanged.
  auto gid = imtest::create_group(server.endpoint, alice, {carol.user})["group"].get<uint64_t>();
  auto members = "/api/groups/" + std::to_string(gid) + "/members";
  auto added = api(server.endpoint, "POST", members, alice, json{{"users", {bob.user}}});
  CHECK(added.status == 403);
  CHECK(added.body["error"]["code"] == "blocked");
  auto group = api(server.endpoint, "GET", "/api/groups/" + std::to_string(gid), alice).body;
  CHECK(group["members"] == json{alice.user, carol.user});
  CHECK(api(server.endpoint, "GET", "/api/groups", bob).body["groups"].empty());

  // The block is one way: bob may put alice in his group; and once he unblocks, she may add him.
  CHECK(api(server.endpoint, "POST", "/api/groups", bob, json{{"name", "mine"}, {"members", {alice.user}}}).status == 201);
  REQUIRE(imclient::http(server.endpoint, "DELETE", "/api/blocks/" + std::to_string(alice.user), "", bob.token).status == 204);
  CHECK(api(server.endpoint, "POST", members, alice, json{{"users", {bob.user}}}).status == 200);
}

TEST_CASE("--groups-per-min: group creations per user") {
  imtest::TestServer server([](im::ServerOptions& o) { o.groups_per_min = 3; });
  auto alice = server.account("alice"), bob = server.account("bob");
  for (int i = 0; i < 3; ++i)
    CHECK(api(server.endpoint, "POST", "/api/groups", alice, json{{"name", "g"}, {"members", {bob.user}}}).status == 201);
  auto refused = api(server.endpoint, "POST", "/api/groups", alice, json{{"name", "g"}, {"members", {bob.user}}});
  CHECK(refused.status == 429);
  CHECK(refused.body["error"]["code"] == "rate_limited");
  CHECK(api(server.endpoint, "GET", "/api/groups", bob).body["groups"].size() == 3);
  // Per user: bob is not affected.
  CHECK(api(server.endpoint, "POST", "/api/groups", bob, json{{"name", "g"}, {"members", {alice.user}}}).status == 201);
  CHECK(opstest::metric(server.endpoint, "imserver_requests_rate_limited_total") == 1);
}

TEST_CASE("--group-additions-per-min: users added per user, one large addition when the budget is whole") {
  imtest::TestServer server([](im::ServerOptions& o) { o.group_additions_per_min = 3; });
  auto owner = server.account("owner");
  std::vector<imclient::Account> others;
  for (int i = 0; i < 8; ++i) others.push_back(server.account("u"));
  auto gid = imtest::create_group(server.endpoint, owner, {})["group"].get<uint64_t>();
  auto members = "/api/groups/" + std::to_string(gid) + "/members";
  auto add = [&](std::vector<uint64_t> users) { return api(server.endpoint, "POST", members, owner, json{{"users", users}}); };

  CHECK(add({others[0].user, others[1].user}).status == 200);  // 2 of 3
  auto refused = add({others[2].user, others[3].user});         // 2 more: over
  CHECK(refused.status == 429);
  CHECK(refused.body["error"]["code"] == "rate_limited");
  CHECK(add({others[2].user}).status == 200);  // the third
  CHECK(add({others[3].user}).status == 429);
  auto group = api(server.endpoint, "GET", "/api/groups/" + std::to_string(gid), owner).body;
  CHECK(group["members"].size() == 4);

  // Another owner with a whole budget may add more than it at once, and then waits.
  auto second = server.account("second");
  auto gid2 = imtest::create_group(server.endpoint, second, {})["group"].get<uint64_t>();
  auto members2 = "/api/groups/" + std::to_string(gid2) + "/members";
  CHECK(api(server.endpoint, "POST", members2, second, json{{"users", ids({others.begin(), others.begin() + 5})}}).status == 200);
  CHECK(api(server.endpoint, "POST", members2, second, json{{"users", {others[6].user}}}).status == 429);
}

TEST_CASE("--friend-requests-per-min: friend requests per user") {
  imtest::TestServer server([](im::ServerOptions& o) { o.friend_requests_per_min = 2; });
  auto alice = server.account("alice");
  std::vector<imclient::Account> others;
  for (int i = 0; i < 3; ++i) others.push_back(server.account("u"));
  CHECK(imtest::friend_call(server.endpoint, "PUT", alice, others[0].user).status == 200);
  CHECK(imtest::friend_call(server.endpoint, "PUT", alice, others[1].user).status == 200);
  auto refused = imtest::friend_call(server.endpoint, "PUT", alice, others[2].user);
  CHECK(refused.status == 429);
  CHECK(opstest::error_code(refused) == "rate_limited");
  // Withdrawing is not limited (it ends what a request started); the toggle flood is bounded by
  // the requests.
  CHECK(imtest::friend_call(server.endpoint, "DELETE", alice, others[0].user).status == 204);
  CHECK(imtest::friend_call(server.endpoint, "PUT", alice, others[0].user).status == 429);
  // Another user is not affected, and accepting alice's request is a request of its own.
  CHECK(imtest::friend_call(server.endpoint, "PUT", others[1], alice.user).json() == json{{"state", "friends"}});
}

TEST_CASE("--register-per-min-per-ip: registrations per client address") {
  imtest::TestServer server([](im::ServerOptions& o) { o.register_per_min_per_ip = 3; });
  // A malformed registration costs no hash and does not count.
  CHECK(imclient::http(server.endpoint, "POST", "/api/register", json{{"username", "x"}, {"password", "p"}}.dump())
            .status == 400);
  for (int i = 0; i < 3; ++i) CHECK(register_call(server.endpoint, imclient::unique_username("r")).status == 201);
  auto refused = register_call(server.endpoint, imclient::unique_username("r"));
  CHECK(refused.status == 429);
  CHECK(opstest::error_code(refused) == "rate_limited");
  // Logins are not registrations.
  CHECK(imclient::http(server.endpoint, "POST", "/api/login", json{{"username", "nobody"}, {"password", "password123"}}.dump())
            .status == 401);
}

TEST_CASE("failed logins count before the hash: parallel guesses get no more checks than the limit") {
  imtest::TestServer server([](im::ServerOptions& o) {
    o.password_hash_cost = im::PasswordHashCost::interactive;  // each check takes a while, as in production
    o.login_attempts_per_min = 3;
    o.login_attempts_per_min_per_ip = 1000;
  });
  auto victim = server.account("victim");
  constexpr int kGuesses = 20;
  std::vector<int> statuses(kGuesses);
  std::mutex mutex;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> threads;
  for (int i = 0; i < kGuesses; ++i)
    threads.emplace_back([&, i] {
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return go; });
      }
      statuses[i] = imclient::http(server.endpoint, "POST", "/api/login",
                                   json{{"username", victim.username}, {"password", "guess-" + std::to_string(i)}}.dump(),
                                   "", "application/json", std::chrono::seconds(60))
                        .status;
    });
  {
    std::lock_guard<std::mutex> lock(mutex);
    go = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  int checked = 0, limited = 0;
  for (auto s : statuses) {
    checked += s == 401;
    limited += s == 429;
  }
  CHECK(checked == 3);
  CHECK(limited == kGuesses - 3);
  // The right password is refused too until the window ends.
  CHECK(imclient::http(server.endpoint, "POST", "/api/login",
                       json{{"username", victim.username}, {"password", victim.password}}.dump())
            .status == 429);
}

TEST_CASE("the abuse limits are flags of the binary") {
  imtest::TempDir data;
  imtest::ServerProcess process(data.path(), {"--password-hash-cost", "min", "--register-per-min-per-ip", "3",
                                              "--groups-per-min", "1", "--group-additions-per-min", "1",
                                              "--friend-requests-per-min", "1"});
  auto a = imclient::register_and_login(process.endpoint, imclient::unique_username("a"), "password123");
  auto b = imclient::register_and_login(process.endpoint, imclient::unique_username("b"), "password123");
  auto c = imclient::register_and_login(process.endpoint, imclient::unique_username("c"), "password123");
  CHECK(register_call(process.endpoint, imclient::unique_username("d")).status == 429);
  CHECK(imtest::friend_call(process.endpoint, "PUT", a, b.user).status == 200);
  CHECK(imtest::friend_call(process.endpoint, "PUT", a, c.user).status == 429);
  auto gid = imtest::create_group(process.endpoint, a, {})["group"].get<uint64_t>();
  CHECK(api(process.endpoint, "POST", "/api/groups", a, json{{"name", "x"}}).status == 429);
  auto members = "/api/groups/" + std::to_string(gid) + "/members";
  CHECK(api(process.endpoint, "POST", members, a, json{{"users", {b.user}}}).status == 200);
  CHECK(api(process.endpoint, "POST", members, a, json{{"users", {c.user}}}).status == 429);
}
