// PROTOCOL.md section 3: GET /api/conversations (most recent activity first, unread, read_seq)
// and GET /api/conversations/{conv}/messages (paging with before/limit, validation, members only).

#include <doctest/doctest.h>

#include <thread>

#include "support/group_helpers.hpp"

using imtest::api;
using imtest::group_message;
using imtest::Member;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json history(const imclient::Endpoint& endpoint, const imclient::Account& who, const std::string& conv,
             const std::string& query = "") {
  auto r = api(endpoint, "GET", "/api/conversations/" + conv + "/messages" + query, who);
  if (r.status != 200) throw std::runtime_error("history: " + std::to_string(r.status) + " " + r.body.dump());
  return r.body["messages"];
}

// Waits until the wall clock is in a later millisecond, so the next message's ts is larger than
// every earlier one (activity order is by ts; equal ts would make the order ambiguous).
void next_millisecond() {
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  };
  auto start = now();
  while (now() <= start) std::this_thread::yield();
}

std::vector<uint64_t> seqs(const json& messages) {
  std::vector<uint64_t> out;
  for (const auto& m : messages) out.push_back(m["seq"].get<uint64_t>());
  return out;
}

}  // namespace

TEST_CASE("1:1 history: newest first, before and limit page through, limits are validated") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = server.account("bob");
  auto carol = server.account("carol");
  auto conv = imclient::conv_id_user(alice.account.user, bob.user);
  std::vector<json> acks;
  for (int i = 1; i <= 7; ++i) {
    alice.conn->send(imclient::text_message(bob.user, "m" + std::to_string(i)));
    acks.push_back(alice.reader->next("send_ack"));
  }
  auto all = history(server.endpoint, bob, conv);
  CHECK(seqs(all) == std::vector<uint64_t>{7, 6, 5, 4, 3, 2, 1});
  CHECK(all[0] == json{{"conv", conv}, {"seq", 7}, {"from", alice.account.user}, {"body", {{"text", "m7"}}},
                       {"ts", acks[6]["ts"]}});
  CHECK_FALSE(all[0].contains("read_count"));  // only group messages have one
  CHECK(seqs(history(server.endpoint, alice.account, conv, "?limit=3")) == std::vector<uint64_t>{7, 6, 5});
  CHECK(seqs(history(server.endpoint, alice.account, conv, "?before=5&limit=3")) == std::vector<uint64_t>{4, 3, 2});
  CHECK(seqs(history(server.endpoint, alice.account, conv, "?before=2&limit=3")) == std::vector<uint64_t>{1});
  CHECK(history(server.endpoint, alice.account, conv, "?before=1").empty());
  CHECK(seqs(history(server.endpoint, alice.account, conv, "?before=100&limit=200")).size() == 7);
  CHECK(seqs(history(server.endpoint, alice.account, conv, "?limit=1")) == std::vector<uint64_t>{7});
  // The conv segment may be percent-encoded.
  auto encoded = "u%3A" + std::to_string(std::min(alice.account.user, bob.user)) + "%3A" +
                 std::to_string(std::max(alice.account.user, bob.user));
  CHECK(history(server.endpoint, bob, encoded).size() == 7);

  auto status_of = [&](const std::string& query) {
    auto r = api(server.endpoint, "GET", "/api/conversations/" + conv + "/messages" + query, alice.account);
    return std::to_string(r.status) + (r.body.contains("error") ? " " + r.body["error"]["code"].get<std::string>() : "");
  };
  CHECK(status_of("?limit=0") == "400 invalid");
  CHECK(status_of("?limit=201") == "400 invalid");
  CHECK(status_of("?limit=abc") == "400 invalid");
  CHECK(status_of("?limit=-1") == "400 invalid");
  CHECK(status_of("?before=x") == "400 invalid");
  CHECK(status_of("?limit=200") == "200");
  auto outsider = api(server.endpoint, "GET", "/api/conversations/" + conv + "/messages", carol);
  CHECK(outsider.status == 403);
  CHECK(outsider.body["error"]["code"] == "not_member");
  CHECK(imclient::http(server.endpoint, "GET", "/api/conversations/" + conv + "/messages").status == 401);
}

TEST_CASE("default page size is 50") {
  imtest::TestServer server([](im::ServerOptions& o) { o.rate_sends_per_s = 0; });
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = server.account("bob");
  for (int i = 1; i <= 60; ++i) alice.conn->send(imclient::text_message(bob.user, "m"));
  for (int i = 1; i <= 60; ++i) alice.reader->next("send_ack");
  auto conv = imclient::conv_id_user(alice.account.user, bob.user);
  auto page = history(server.endpoint, bob, conv);
  REQUIRE(page.size() == 50);
  CHECK(page[0]["seq"] == 60);
  CHECK(page[49]["seq"] == 11);
  CHECK(seqs(history(server.endpoint, bob, conv, "?before=11")).size() == 10);
}

TEST_CASE("group history: members only, with read_count; a removed member loses access") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto eve = server.account("eve");
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob.account.user})["group"].get<uint64_t>();
  auto conv = imtest::group_conv(gid);
  for (int i = 1; i <= 3; ++i) {
    alice.conn->send(group_message(gid, "g" + std::to_string(i)));
    alice.reader->next("send_ack");
  }
  auto page = history(server.endpoint, bob.account, conv, "?limit=2");
  CHECK(seqs(page) == std::vector<uint64_t>{3, 2});
  CHECK(page[0]["from"] == alice.account.user);
  CHECK(page[0]["body"] == json{{"text", "g3"}});
  CHECK(page[0]["read_count"] == 0);
  CHECK(api(server.endpoint, "GET", "/api/conversations/" + conv + "/messages", eve).status == 403);
  CHECK(api(server.endpoint, "GET", "/api/conversations/g:424242/messages", eve).status == 403);
  CHECK(api(server.endpoint, "GET", "/api/conversations/nonsense/messages", eve).status == 404);
  CHECK(api(server.endpoint, "DELETE",
            "/api/groups/" + std::to_string(gid) + "/members/" + std::to_string(bob.account.user), bob.account)
            .status == 204);
  CHECK(api(server.endpoint, "GET", "/api/conversations/" + conv + "/messages", bob.account).status == 403);
}

TEST_CASE("conversation list: most recent activity first, with last message, unread and read_seq") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto with_bob = imclient::conv_id_user(alice.account.user, bob.account.user);
  auto with_carol = imclient::conv_id_user(alice.account.user, carol.account.user);

  CHECK(api(server.endpoint, "GET", "/api/conversations", alice.account).body ==
        json{{"conversations", json::array()}});
  auto quiet = imtest::create_group(server.endpoint, alice.account, {carol.account.user}, "quiet")["group"].get<uint64_t>();
  next_millisecond();
  auto busy = imtest::create_group(server.endpoint, bob.account, {alice.account.user}, "busy")["group"].get<uint64_t>();
  auto order = [&] {
    json out = json::array();
    auto listed = api(server.endpoint, "GET", "/api/conversations", alice.account);
    for (const auto& c : listed.body["conversations"])
      out.push_back(c["conv"]);
    return out.dump();
  };
  auto send = [&](Member& from, const json& frame) {
    next_millisecond();
    from.conn->send(frame);
    return from.reader->next("send_ack");
  };
  // A group without messages is listed with last: null, by its creation time.
  CHECK(order() == json{imtest::group_conv(busy), imtest::group_conv(quiet)}.dump());
  send(bob, imclient::text_message(alice.account.user, "b1"));
  send(bob, group_message(busy, "g1"));
  send(carol, imclient::text_message(alice.account.user, "c1"));
  CHECK(order() == json{with_carol, imtest::group_conv(busy), with_bob, imtest::group_conv(quiet)}.dump());
  auto ack = send(bob, imclient::text_message(alice.account.user, "b2"));
  send(alice, imclient::text_message(bob.account.user, "a1"));
  CHECK(order() == json{with_bob, with_carol, imtest::group_conv(busy), imtest::group_conv(quiet)}.dump());

  auto list = api(server.endpoint, "GET", "/api/conversations", alice.account).body["conversations"];
  CHECK(list[0]["last"]["body"] == json{{"text", "a1"}});
  CHECK(list[0]["last"]["seq"] == 3);
  CHECK(list[0]["unread"] == 2);  // b1 and b2; a1 is her own
  CHECK(list[0]["read_seq"] == 0);
  CHECK(list[2]["last"]["read_count"] == 0);
  CHECK(list[2]["last"]["from"] == bob.account.user);
  CHECK(list[2]["unread"] == 1);
  CHECK(list[3]["last"].is_null());
  CHECK(list[3]["unread"] == 0);

  alice.conn->send({{"type", "read"}, {"conv", with_bob}, {"seq", ack["seq"]}});
  alice.reader->next("read");
  auto after = api(server.endpoint, "GET", "/api/conversations", alice.account).body["conversations"];
  CHECK(after[0]["read_seq"] == 2);
  CHECK(after[0]["unread"] == 0);
  // Bob's own view of the group: his message was read by nobody yet.
  alice.conn->send({{"type", "read"}, {"conv", imtest::group_conv(busy)}, {"seq", 1}});
  alice.reader->next("read");
  auto bob_list = api(server.endpoint, "GET", "/api/conversations", bob.account);
  for (const auto& c : bob_list.body["conversations"])
    if (c["conv"] == imtest::group_conv(busy)) CHECK(c["last"]["read_count"] == 1);
}
