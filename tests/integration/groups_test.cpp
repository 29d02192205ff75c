// PROTOCOL.md sections 3, 5 and 6 for groups: the REST routes, membership events, and group
// messages with the one-to-one guarantees (durable before send_ack, every member's inbox, exactly
// once, in order, the same seq for everyone), over real sockets.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "store/store.hpp"
#include "support/group_helpers.hpp"

using imtest::api;
using imtest::group_message;
using imtest::Member;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

bool is_group_event(const json& f, const std::string& event, uint64_t user) {
  return f.value("type", "") == "group" && f.value("event", "") == event && f.value("user", uint64_t{0}) == user;
}

}  // namespace

TEST_CASE("POST /api/groups: 201 with the group; the creator is owner and member; every member gets `created`") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = server.account("carol");

  auto created = api(server.endpoint, "POST", "/api/groups", alice.account,
                     json{{"name", "friends"}, {"members", {bob.account.user, bob.account.user}}});
  REQUIRE(created.status == 201);
  auto gid = created.body["group"].get<uint64_t>();
  CHECK(gid > 0);
  CHECK(created.body["name"] == "friends");
  CHECK(created.body["owner"] == alice.account.user);
  auto members = std::vector<uint64_t>{alice.account.user, bob.account.user};
  std::sort(members.begin(), members.end());
  CHECK(created.body["members"] == json(members));

  for (auto* m : {&alice, &bob}) {
    auto event = m->reader->next("group");
    CHECK(event["group"] == gid);
    CHECK(event["event"] == "created");
    CHECK(event["user"] == alice.account.user);
  }

  auto listed = api(server.endpoint, "GET", "/api/groups", bob.account);
  CHECK(listed.status == 200);
  CHECK(listed.body == json{{"groups", {{{"group", gid}, {"name", "friends"}}}}});
  CHECK(api(server.endpoint, "GET", "/api/groups", carol).body == json{{"groups", json::array()}});

  auto got = api(server.endpoint, "GET", "/api/groups/" + std::to_string(gid), bob.account);
  CHECK(got.status == 200);
  CHECK(got.body == created.body);
  auto outsider = api(server.endpoint, "GET", "/api/groups/" + std::to_string(gid), carol);
  CHECK(outsider.status == 403);
  CHECK(outsider.body["error"]["code"] == "not_member");
  CHECK(api(server.endpoint, "GET", "/api/groups/999999", carol).status == 404);
  CHECK(imclient::http(server.endpoint, "GET", "/api/groups").status == 401);
}

TEST_CASE("POST /api/groups refuses bad names, bad member lists and unknown users") {
  imtest::TestServer server([](im::ServerOptions& o) { o.max_group_members = 3; });
  auto alice = server.account("alice"), bob = server.account("bob"), carol = server.account("carol"),
       dave = server.account("dave");
  auto code = [&](const json& body) {
    auto r = api(server.endpoint, "POST", "/api/groups", alice, body);
    std::string error_code = r.body.contains("error") ? r.body["error"].value("code", "") : "";
    return std::to_string(r.status) + " " + error_code;
  };
  CHECK(code(json{{"members", json::array()}}) == "400 invalid");
  CHECK(code(json{{"name", ""}}) == "400 invalid");
  CHECK(code(json{{"name", std::string(200, 'x')}}) == "400 invalid");
  CHECK(code(json{{"name", 5}}) == "400 invalid");
  CHECK(code(json{{"name", "x"}, {"members", "bob"}}) == "400 invalid");
  CHECK(code(json{{"name", "x"}, {"members", {-1}}}) == "400 invalid");
  CHECK(code(json{{"name", "x"}, {"members", {bob.user, 987654321}}}) == "404 no_such_user");
  CHECK(code(json{{"name", "x"}, {"members", {bob.user, carol.user, dave.user}}}) == "400 invalid");
  auto r = imclient::http(server.endpoint, "POST", "/api/groups", "not json", alice.token);
  CHECK(r.status == 400);
  // Within the limit, the creator listed among the members does not count twice.
  CHECK(code(json{{"name", "x"}, {"members", {alice.user, bob.user, carol.user}}}) == "201 ");
}

TEST_CASE("adding members: owner only; every member, the new one included, gets `joined`") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto group = imtest::create_group(server.endpoint, alice.account, {bob.account.user});
  auto gid = group["group"].get<uint64_t>();
  auto path = "/api/groups/" + std::to_string(gid) + "/members";

  auto refused = api(server.endpoint, "POST", path, bob.account, json{{"users", {carol.account.user}}});
  CHECK(refused.status == 403);
  CHECK(refused.body["error"]["code"] == "forbidden");
  CHECK(api(server.endpoint, "POST", path, alice.account, json{{"users", {555555}}}).status == 404);
  CHECK(api(server.endpoint, "POST", path, alice.account, json{{"users", "x"}}).status == 400);
  CHECK(api(server.endpoint, "POST", "/api/groups/777777/members", alice.account, json{{"users", {carol.account.user}}})
            .status == 404);

  auto added = api(server.endpoint, "POST", path, alice.account, json{{"users", {carol.account.user}}});
  REQUIRE(added.status == 200);
  CHECK(added.body["members"].size() == 3);
  for (auto* m : {&alice, &bob, &carol}) {
    auto joined = m->reader->next_matching([&](const json& f) { return is_group_event(f, "joined", carol.account.user); });
    CHECK(joined["group"] == gid);
  }
  // Adding a member again changes nothing and tells nobody.
  CHECK(api(server.endpoint, "POST", path, alice.account, json{{"users", {carol.account.user}}}).status == 200);
  // Carol is a member now: she sends, everyone receives.
  carol.conn->send(group_message(gid, "hi all", "c-1"));
  auto ack = carol.reader->next("send_ack");
  CHECK(ack["conv"] == imtest::group_conv(gid));
  for (auto* m : {&alice, &bob}) {
    auto msg = m->reader->next("msg");
    CHECK(msg["seq"] == ack["seq"]);
    CHECK(msg["from"] == carol.account.user);
  }
}

TEST_CASE("removal and leaving: who may, and who is told") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto dave = imtest::connect_member(server.endpoint, server.account("dave"));
  auto group = imtest::create_group(server.endpoint, alice.account,
                                    {bob.account.user, carol.account.user, dave.account.user});
  auto gid = group["group"].get<uint64_t>();
  auto member_path = [&](uint64_t user) { return "/api/groups/" + std::to_string(gid) + "/members/" + std::to_string(user); };

  // Bob may not remove Carol.
  auto refused = api(server.endpoint, "DELETE", member_path(carol.account.user), bob.account);
  CHECK(refused.status == 403);
  CHECK(refused.body["error"]["code"] == "forbidden");
  // The owner removes Carol: the remaining members and Carol get `removed`.
  CHECK(api(server.endpoint, "DELETE", member_path(carol.account.user), alice.account).status == 204);
  for (auto* m : {&alice, &bob, &carol, &dave})
    CHECK(m->reader->next_matching([&](const json& f) { return is_group_event(f, "removed", carol.account.user); })["group"] == gid);
  CHECK(api(server.endpoint, "DELETE", member_path(carol.account.user), alice.account).status == 404);
  // Dave leaves: `left` to the remaining members and to Dave.
  CHECK(api(server.endpoint, "DELETE", member_path(dave.account.user), dave.account).status == 204);
  for (auto* m : {&alice, &bob, &dave})
    CHECK(m->reader->next_matching([&](const json& f) { return is_group_event(f, "left", dave.account.user); })["group"] == gid);
  auto now = api(server.endpoint, "GET", "/api/groups/" + std::to_string(gid), alice.account);
  auto members = std::vector<uint64_t>{alice.account.user, bob.account.user};
  std::sort(members.begin(), members.end());
  CHECK(now.body["members"] == json(members));
  CHECK(api(server.endpoint, "GET", "/api/groups/" + std::to_string(gid), carol.account).status == 403);
  CHECK(api(server.endpoint, "GET", "/api/groups", dave.account).body["groups"].empty());

  // Carol, removed, cannot send; Bob still can, and Carol and Dave do not receive it.
  carol.conn->send(group_message(gid, "still here?", "carol-1"));
  auto err = carol.reader->next("error");
  CHECK(err["code"] == "not_member");
  CHECK(err["cid"] == "carol-1");
  bob.conn->send(group_message(gid, "just us"));
  CHECK(alice.reader->next("msg")["from"] == bob.account.user);
  for (auto* gone : {&carol, &dave})
    for (const auto& f : gone->reader->drain(300ms)) CHECK(f.value("type", "") != "msg");

  // The owner leaves: the group passes to the remaining member.
  CHECK(api(server.endpoint, "DELETE", member_path(alice.account.user), alice.account).status == 204);
  auto after = api(server.endpoint, "GET", "/api/groups/" + std::to_string(gid), bob.account);
  CHECK(after.body["owner"] == bob.account.user);
  CHECK(after.body["members"] == json{bob.account.user});
}

TEST_CASE("group send: send_ack, every member's msg with the same seq and ts, cid only in the sender's own, dedup") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto outsider = imtest::connect_member(server.endpoint, server.account("eve"));
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob.account.user, carol.account.user})["group"]
                 .get<uint64_t>();

  alice.conn->send(group_message(gid, "hello", "g-1"));
  auto ack = alice.reader->next("send_ack");
  CHECK(ack["cid"] == "g-1");
  CHECK(ack["conv"] == imtest::group_conv(gid));
  CHECK(ack["seq"] == 1);
  auto own = alice.reader->next("msg");
  CHECK(own["cid"] == "g-1");
  CHECK(own["seq"] == 1);
  CHECK(own["ts"] == ack["ts"]);
  for (auto* m : {&bob, &carol}) {
    auto msg = m->reader->next("msg");
    CHECK(msg["conv"] == imtest::group_conv(gid));
    CHECK(msg["seq"] == 1);
    CHECK(msg["from"] == alice.account.user);
    CHECK(msg["body"] == json{{"text", "hello"}});
    CHECK(msg["ts"] == ack["ts"]);
    CHECK_FALSE(msg.contains("cid"));
  }
  // The same cid again: the identical send_ack, no second message; also after a restart.
  alice.conn->send(group_message(gid, "hello again?", "g-1"));
  CHECK(alice.reader->next("send_ack") == ack);
  bob.conn->send(group_message(gid, "second"));
  CHECK(bob.reader->next("send_ack")["seq"] == 2);
  CHECK(carol.reader->next("msg")["seq"] == 2);

  // Errors: not a member, no such group.
  outsider.conn->send(group_message(gid, "let me in", "e-1"));
  auto not_member = outsider.reader->next("error");
  CHECK(not_member["code"] == "not_member");
  CHECK(not_member["cid"] == "e-1");
  outsider.conn->send(group_message(gid + 1000, "anyone?", "e-2"));
  auto no_group = outsider.reader->next("error");
  CHECK(no_group["code"] == "no_such_group");
  CHECK(no_group["cid"] == "e-2");

  alice.conn.reset();
  bob.conn.reset();
  carol.conn.reset();
  outsider.conn.reset();
  server.restart();
  auto again = imclient::connect_authed(server.endpoint, alice.account.token, "dev");
  again->send(group_message(gid, "after restart", "g-1"));
  CHECK(again->expect("send_ack") == ack);
  again->send(group_message(gid, "third"));
  CHECK(again->expect("send_ack")["seq"] == 3);  // seq recovered from disk
}

TEST_CASE("a member offline during sends gets every message in order on connect") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob_account = server.account("bob");
  json bob_ok;
  auto bob_conn = imclient::connect_authed(server.endpoint, bob_account.token, "phone", &bob_ok);
  bob_conn->close();
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob_account.user})["group"].get<uint64_t>();
  for (int i = 1; i <= 5; ++i) {
    alice.conn->send(group_message(gid, "m" + std::to_string(i)));
    CHECK(alice.reader->next("send_ack")["seq"] == i);
  }
  auto bob = imclient::connect_authed(server.endpoint, bob_account.token, "phone");
  imtest::Reader reader(*bob);
  CHECK(reader.next("group")["event"] == "created");
  for (int i = 1; i <= 5; ++i) {
    auto msg = reader.next("msg");
    CHECK(msg["seq"] == i);
    CHECK(msg["body"]["text"] == "m" + std::to_string(i));
  }
}

TEST_CASE("a group of 200: every member gets every message exactly once, with the same seq, in order") {
  imtest::TestServer server([](im::ServerOptions& o) { o.rate_sends_per_s = 0; });
  constexpr int kMembers = 200;
  constexpr int kSenders = 4;
  constexpr int kPerSender = 10;
  std::vector<Member> members;
  for (int i = 0; i < kMembers; ++i)
    members.push_back(imtest::connect_member(server.endpoint, server.account("m")));
  std::vector<uint64_t> ids;
  for (size_t i = 1; i < members.size(); ++i) ids.push_back(members[i].account.user);
  auto gid = imtest::create_group(server.endpoint, members[0].account, ids)["group"].get<uint64_t>();

  // Several members send at once; each sender's messages are in its own order.
  std::map<std::string, uint64_t> acked_seq;  // cid -> seq
  std::vector<std::thread> senders;
  std::mutex acked_mutex;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      auto& m = members[static_cast<size_t>(s * 7)];
      for (int k = 0; k < kPerSender; ++k) {
        auto cid = "s" + std::to_string(s) + "-" + std::to_string(k);
        m.conn->send(group_message(gid, cid, cid));
      }
    });
  }
  for (auto& t : senders) t.join();
  constexpr int kTotal = kSenders * kPerSender;

  std::atomic<int> failures{0};
  std::vector<std::vector<json>> received(members.size());
  std::vector<uint64_t> last_useq(members.size(), 0);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < members.size(); ++i) {
    readers.emplace_back([&, i] {
      auto& m = members[i];
      int msgs = 0;
      auto deadline = std::chrono::steady_clock::now() + 60s;
      while (msgs < kTotal && std::chrono::steady_clock::now() < deadline) {
        auto f = m.conn->next(1s);
        if (!f) continue;
        if (f->contains("useq") && (*f)["type"] != "auth_ok") {
          m.conn->send({{"type", "ack"}, {"useq", (*f)["useq"]}});
          // A push whose ack came later than ack_timeout_ms is sent again (section 6); a client
          // drops what it already processed.
          if ((*f)["useq"].get<uint64_t>() <= last_useq[i]) continue;
          last_useq[i] = (*f)["useq"].get<uint64_t>();
        }
        if ((*f)["type"] == "msg") {
          received[i].push_back(*f);
          ++msgs;
        } else if ((*f)["type"] == "send_ack") {
          std::lock_guard<std::mutex> lock(acked_mutex);
          acked_seq[(*f)["cid"].get<std::string>()] = (*f)["seq"].get<uint64_t>();
        }
      }
      if (msgs < kTotal) failures++;
    });
  }
  for (auto& t : readers) t.join();
  REQUIRE(failures == 0);
  REQUIRE(acked_seq.size() == static_cast<size_t>(kTotal));
  for (size_t i = 0; i < members.size(); ++i) {
    auto& got = received[i];
    REQUIRE(got.size() == static_cast<size_t>(kTotal));
    std::set<uint64_t> useqs;
    for (size_t k = 0; k < got.size(); ++k) {
      CHECK(got[k]["seq"] == k + 1);  // in order, once each, no gaps
      useqs.insert(got[k]["useq"].get<uint64_t>());
      auto cid = got[k]["body"]["text"].get<std::string>();
      CHECK(acked_seq[cid] == got[k]["seq"].get<uint64_t>());  // the seq the sender was told
    }
    CHECK(useqs.size() == got.size());
  }
  // Nothing new arrives: no duplicates (a late resend repeats a useq already processed).
  for (size_t i = 0; i < members.size(); ++i)
    while (auto f = members[i].conn->next(0ms))
      if ((*f)["type"] == "msg") CHECK((*f)["useq"].get<uint64_t>() <= last_useq[i]);
}

TEST_CASE("removal mid-stream: the removed member stops receiving, the others get everything") {
  imtest::TestServer server([](im::ServerOptions& o) { o.rate_sends_per_s = 0; });
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob.account.user, carol.account.user})["group"]
                 .get<uint64_t>();
  // Bob streams messages, each after the previous one's send_ack, until 20 more went out after
  // the removal answered.
  std::atomic<bool> removal_done{false};
  std::atomic<uint64_t> sent{0};
  std::thread stream([&] {
    int after_removal = 0;
    for (uint64_t i = 1; after_removal < 20; ++i) {
      bool was_done = removal_done;
      bob.conn->send(group_message(gid, std::to_string(i)));
      if (bob.reader->next("send_ack").is_null()) return;
      sent = i;
      if (was_done) ++after_removal;
    }
  });
  // Let the stream get going: Alice saw the 10th message.
  std::vector<json> alice_frames;
  uint64_t alice_msgs = 0;
  while (alice_msgs < 10) {
    auto f = alice.reader->next("msg");
    if (f.is_null()) break;
    alice_frames.push_back(f);
    ++alice_msgs;
  }
  auto removed = api(server.endpoint, "DELETE",
                     "/api/groups/" + std::to_string(gid) + "/members/" + std::to_string(carol.account.user),
                     alice.account);
  CHECK(removed.status == 204);
  removal_done = true;
  stream.join();
  auto total = sent.load();

  // Alice: every message once, in order, and the removal event among them.
  bool alice_saw_removal = false;
  while (alice_msgs < total || !alice_saw_removal) {
    auto f = alice.reader->next_matching([](const json& x) { return x["type"] == "msg" || x["type"] == "group"; });
    if (f.is_null()) break;
    alice_frames.push_back(f);
    if (f["type"] == "msg") ++alice_msgs;
    else alice_saw_removal = is_group_event(f, "removed", carol.account.user);
  }
  CHECK(alice_saw_removal);
  uint64_t expect_seq = 1;
  uint64_t removal_after_seq = 0;  // the seq of the last message before the removal
  for (const auto& f : alice_frames) {
    if (f["type"] == "group") {
      removal_after_seq = expect_seq - 1;
      continue;
    }
    CHECK(f["seq"] == expect_seq);
    ++expect_seq;
  }
  CHECK(expect_seq == total + 1);
  CHECK(removal_after_seq >= 10);
  CHECK(removal_after_seq < total);  // it really was mid-stream

  // Carol: exactly the messages before the removal, then the removal, then nothing.
  std::vector<uint64_t> carol_seqs;
  bool carol_removed = false;
  for (const auto& f : carol.reader->drain(500ms)) {
    if (is_group_event(f, "removed", carol.account.user)) carol_removed = true;
    if (f["type"] == "msg") {
      CHECK_FALSE(carol_removed);
      carol_seqs.push_back(f["seq"].get<uint64_t>());
    }
  }
  CHECK(carol_removed);
  REQUIRE(carol_seqs.size() == removal_after_seq);
  for (size_t i = 0; i < carol_seqs.size(); ++i) CHECK(carol_seqs[i] == i + 1);
}

TEST_CASE("resends after the group did not answer in time store the message once") {
  // The test holds the store's commit thread, as a slow disk would: the group's write cannot land,
  // so the sender's actor gives up after --group-timeout-ms with `unavailable` (the write may still
  // land), and the client resends the same cid, as PROTOCOL.md section 5 asks. A resend while the
  // write is in flight waits for it (and times out too); once it landed, a resend gets the stored
  // answer. The message is stored once.
  imtest::TestServer server([](im::ServerOptions& o) { o.group_timeout_ms = 100; });
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob.account.user})["group"].get<uint64_t>();
  const std::string cid = "retry-me";
  auto answer_to_cid = [&](const json& f) {
    return (f["type"] == "send_ack" || f["type"] == "error") && f.value("cid", "") == cid;
  };

  std::promise<void> release;
  auto released = release.get_future().share();
  server.app().store().commit([released](im::Txn&) { released.wait(); }, nullptr);
  for (int attempt = 0; attempt < 2; ++attempt) {  // the first send, then a resend while it is in flight
    alice.conn->send(group_message(gid, "once", cid));
    auto reply = alice.reader->next_matching(answer_to_cid);
    CHECK(reply["type"] == "error");
    CHECK(reply["code"] == "unavailable");
  }
  release.set_value();
  REQUIRE(server.app().store().commit_and_wait([](im::Txn&) {}));  // every write queued before has landed

  alice.conn->send(group_message(gid, "once", cid));
  auto ack = alice.reader->next_matching(answer_to_cid);
  REQUIRE(ack["type"] == "send_ack");
  alice.conn->send(group_message(gid, "once", cid));
  CHECK(alice.reader->next_matching(answer_to_cid) == ack);  // and again: the identical answer

  // Bob got it once, with the acknowledged seq.
  auto msg = bob.reader->next_matching([](const json& f) { return f["type"] == "msg"; });
  CHECK(msg["seq"] == ack["seq"]);
  for (const auto& f : bob.reader->drain(300ms)) CHECK(f["type"] != "msg");
  auto history = imtest::api(server.endpoint, "GET",
                             "/api/conversations/" + imtest::group_conv(gid) + "/messages?limit=200", alice.account);
  REQUIRE(history.status == 200);
  std::vector<uint64_t> stored_once;
  for (const auto& m : history.body["messages"])
    if (m["body"] == json{{"text", "once"}}) stored_once.push_back(m["seq"].get<uint64_t>());
  CHECK(stored_once == std::vector<uint64_t>{ack["seq"].get<uint64_t>()});
}
