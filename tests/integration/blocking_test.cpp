// Nothing blocking on an I/O thread (issue 20): logout does not wait for its commit on the I/O
// thread; the blocking pool's queue is bounded (--blocking-queue-max, then 503 unavailable); a
// group actor is spawned only for a group that exists. Over real sockets against an in-process
// server whose store commit thread the test can hold.

#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "integration/ops_support.hpp"
#include "store/store.hpp"
#include "support/group_helpers.hpp"
#include "support/social_helpers.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Holds the store's commit thread: a write whose build waits until release(). Every commit queued
// meanwhile waits behind it.
class CommitHold {
 public:
  explicit CommitHold(im::Store& store) {
    auto released = released_.get_future().share();
    auto started = std::make_shared<std::promise<void>>();
    auto running = started->get_future();
    store.commit(
        [released, started](im::Txn&) {
          started->set_value();
          released.wait();
        },
        nullptr);
    running.wait();  // the commit thread is inside the build now
  }
  ~CommitHold() { release(); }
  void release() {
    if (!done_) released_.set_value();
    done_ = true;
  }

 private:
  std::promise<void> released_;
  bool done_ = false;
};

int status_or_zero(const imclient::Endpoint& e, const std::string& method, const std::string& target,
                   const std::string& token = "", std::chrono::milliseconds timeout = 2s) {
  try {
    return imclient::http(e, method, target, "", token, "application/json", timeout).status;
  } catch (const std::exception&) {
    return 0;  // no answer in time
  }
}

}  // namespace

TEST_CASE("POST /api/logout waits for its commit off the I/O thread") {
  imtest::TestServer server([](im::ServerOptions& o) { o.io_threads = 1; });
  auto account = server.account();
  CommitHold hold(server.app().store());
  auto logout = std::async(std::launch::async, [&] {
    return imclient::http(server.endpoint, "POST", "/api/logout", "", account.token, "application/json", 20s).status;
  });
  // The logout's write is queued behind the held one, and the only I/O thread still serves others.
  REQUIRE(opstest::eventually([&] { return opstest::metric(server.endpoint, "imserver_store_commits_queued") == 1; }));
  CHECK(status_or_zero(server.endpoint, "GET", "/healthz") == 200);
  CHECK(status_or_zero(server.endpoint, "GET", "/api/me", account.token) == 200);  // not revoked before durable
  CHECK(logout.wait_for(0ms) == std::future_status::timeout);
  hold.release();
  CHECK(logout.get() == 204);
  CHECK(status_or_zero(server.endpoint, "GET", "/api/me", account.token) == 401);
}

TEST_CASE("--blocking-queue-max: a full blocking pool answers 503 unavailable") {
  imtest::TestServer server([](im::ServerOptions& o) { o.blocking_queue_max = 2; });
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol");
  std::future<int> requests[2];
  {
    CommitHold hold(server.app().store());
    // Two friend requests: each holds a pool job until its write is durable.
    requests[0] = std::async(std::launch::async, [&] {
      return imtest::friend_call(server.endpoint, "PUT", alice, bob.user).status;
    });
    requests[1] = std::async(std::launch::async, [&] {
      return imtest::friend_call(server.endpoint, "PUT", carol, bob.user).status;
    });
    REQUIRE(opstest::eventually([&] { return opstest::metric(server.endpoint, "imserver_blocking_jobs") == 2; }));
    // A third request that needs the pool is refused at once.
    auto refused = imclient::http(server.endpoint, "GET", "/api/conversations", "", alice.token);
    CHECK(refused.status == 503);
    CHECK(opstest::error_code(refused) == "unavailable");
    auto login = imclient::http(server.endpoint, "POST", "/api/login",
                                json{{"username", bob.username}, {"password", bob.password}}.dump());
    CHECK(login.status == 503);
    CHECK(opstest::metric(server.endpoint, "imserver_blocking_rejected_total") == 2);
    // What does not need the pool is served.
    CHECK(imclient::http(server.endpoint, "GET", "/api/me", "", alice.token).status == 200);
  }
  CHECK(requests[0].get() == 200);
  CHECK(requests[1].get() == 200);
  CHECK(opstest::eventually([&] { return opstest::metric(server.endpoint, "imserver_blocking_jobs") == 0; }));
  CHECK(imclient::http(server.endpoint, "GET", "/api/conversations", "", alice.token).status == 200);
  // A refused login was not counted as a failure: bob logs in.
  CHECK(imclient::http(server.endpoint, "POST", "/api/login", json{{"username", bob.username}, {"password", bob.password}}.dump())
            .status == 200);
}

TEST_CASE("a group id that no group ever had spawns no group actor") {
  imtest::TestServer server;
  auto alice = server.account("alice");
  auto conn = imclient::connect_authed(server.endpoint, alice.token, "d");
  for (uint64_t gid : {987654ull, 123456789ull, 18446744073709551615ull}) {
    CAPTURE(gid);
    conn->send(imtest::group_message(gid, "hello?"));
    auto error = conn->expect("error");
    CHECK(error["code"] == "no_such_group");
    conn->send({{"type", "read"}, {"conv", "g:" + std::to_string(gid)}, {"seq", 1}});
    CHECK(conn->expect("error")["code"] == "no_such_group");
    auto added = imtest::api(server.endpoint, "POST", "/api/groups/" + std::to_string(gid) + "/members", alice,
                             json{{"users", json::array()}});
    CHECK(added.status == 404);
    CHECK(added.body["error"]["code"] == "no_such_group");
    auto removed = imtest::api(server.endpoint, "DELETE",
                               "/api/groups/" + std::to_string(gid) + "/members/" + std::to_string(alice.user), alice);
    CHECK(removed.status == 404);
  }
  auto text = imclient::http(server.endpoint, "GET", "/metrics").body;
  CHECK(text.find("imserver_actors{kind=\"group\"} 0\n") != std::string::npos);

  // A real group still gets its actor, and works.
  auto gid = imtest::create_group(server.endpoint, alice, {})["group"].get<uint64_t>();
  conn->send(imtest::group_message(gid, "hello"));
  CHECK(conn->expect("send_ack")["conv"] == "g:" + std::to_string(gid));
  text = imclient::http(server.endpoint, "GET", "/metrics").body;
  CHECK(text.find("imserver_actors{kind=\"group\"} 1\n") != std::string::npos);
}
