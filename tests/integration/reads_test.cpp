// PROTOCOL.md section 7 `read`: read cursors move forward only, `read` events, unread counts and
// group read counts (history and pushed read_count), over real sockets.

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include "support/group_helpers.hpp"

using imtest::api;
using imtest::group_message;
using imtest::Member;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json read_frame(const std::string& conv, uint64_t seq) { return {{"type", "read"}, {"conv", conv}, {"seq", seq}}; }

// The entry of `conv` in the caller's conversation list (null if absent).
json conversation(const imclient::Endpoint& endpoint, const imclient::Account& who, const std::string& conv) {
  auto r = api(endpoint, "GET", "/api/conversations", who);
  for (const auto& c : r.body["conversations"])
    if (c["conv"] == conv) return c;
  return nullptr;
}

// Polls the conversation list until `conv`'s read_seq is `seq` (the reads are applied
// asynchronously), for at most 10 s.
json wait_read_seq(const imclient::Endpoint& endpoint, const imclient::Account& who, const std::string& conv,
                   uint64_t seq) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  json c;
  do {
    c = conversation(endpoint, who, conv);
    if (!c.is_null() && c["read_seq"] == seq) return c;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  FAIL_CHECK("read_seq of " << conv << " never became " << seq << ": " << c.dump());
  return c;
}

}  // namespace

TEST_CASE("1:1 read: forward only, a `read` event to every device of the reader and to the peer") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"), "laptop");
  auto alice_phone = imclient::connect_authed(server.endpoint, alice.account.token, "phone");
  imtest::Reader phone(*alice_phone);
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto conv = imclient::conv_id_user(alice.account.user, bob.account.user);
  for (int i = 0; i < 3; ++i) {
    bob.conn->send(imclient::text_message(alice.account.user, "m" + std::to_string(i)));
    bob.reader->next("send_ack");
  }
  alice.conn->send(read_frame(conv, 2));
  for (auto* reader : {alice.reader.get(), &phone, bob.reader.get()}) {
    auto event = reader->next("read");
    CHECK(event["conv"] == conv);
    CHECK(event["reader"] == alice.account.user);
    CHECK(event["seq"] == 2);
  }
  auto c = wait_read_seq(server.endpoint, alice.account, conv, 2);
  CHECK(c["unread"] == 1);
  // Backwards: nothing changes, nobody is told.
  alice.conn->send(read_frame(conv, 1));
  // Beyond the newest message: the cursor stops at the newest.
  alice.conn->send(read_frame(conv, 99));
  auto event = alice.reader->next("read");
  CHECK(event["seq"] == 3);
  CHECK(bob.reader->next("read")["seq"] == 3);
  CHECK(wait_read_seq(server.endpoint, alice.account, conv, 3)["unread"] == 0);
  // Not a participant.
  auto foreign = read_frame(conv, 1);
  foreign["rid"] = "r9";
  carol.conn->send(foreign);
  auto err = carol.reader->next("error");
  CHECK(err["code"] == "not_member");
  CHECK(err["rid"] == "r9");
  // Bob's list shows his own cursor, which Alice's read did not move.
  auto bob_view = conversation(server.endpoint, bob.account, conv);
  CHECK(bob_view["read_seq"] == 0);
  CHECK(bob_view["unread"] == 0);  // every message is his own
}

TEST_CASE("unread after random sends and reads from three devices equals the messages from others above the cursor") {
  imtest::TestServer server([](im::ServerOptions& o) { o.rate_sends_per_s = 0; });
  auto alice_account = server.account("alice");
  std::vector<std::unique_ptr<imclient::Connection>> devices;
  std::vector<std::unique_ptr<imtest::Reader>> readers;
  for (auto name : {"d1", "d2", "d3"}) {
    devices.push_back(imclient::connect_authed(server.endpoint, alice_account.token, name));
    readers.push_back(std::make_unique<imtest::Reader>(*devices.back()));
  }
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto carol = imtest::connect_member(server.endpoint, server.account("carol"));
  auto gid = imtest::create_group(server.endpoint, alice_account, {bob.account.user, carol.account.user})["group"]
                 .get<uint64_t>();
  auto direct = imclient::conv_id_user(alice_account.user, bob.account.user);
  auto group = imtest::group_conv(gid);

  std::mt19937 random(20261123);
  struct Track {
    std::vector<uint64_t> senders;  // senders[seq - 1]
    uint64_t cursor = 0;
  };
  std::map<std::string, Track> tracks{{direct, {}}, {group, {}}};
  for (int step = 0; step < 120; ++step) {
    auto conv = random() % 2 ? direct : group;
    auto& track = tracks[conv];
    auto action = random() % 4;
    if (action <= 1 || track.senders.empty()) {
      // A send: by Bob, by Carol (group only), or by Alice from one of her devices.
      auto who = random() % 3;
      json frame;
      imtest::Reader* reader;
      uint64_t from;
      if (who == 0) {
        auto d = random() % 3;
        frame = conv == direct ? imclient::text_message(bob.account.user, "a") : group_message(gid, "a");
        devices[d]->send(frame);
        reader = readers[d].get();
        from = alice_account.user;
      } else if (who == 1 || conv == direct) {
        frame = conv == direct ? imclient::text_message(alice_account.user, "b") : group_message(gid, "b");
        bob.conn->send(frame);
        reader = bob.reader.get();
        from = bob.account.user;
      } else {
        carol.conn->send(group_message(gid, "c"));
        reader = carol.reader.get();
        from = carol.account.user;
      }
      auto ack = reader->next("send_ack");
      REQUIRE(ack["seq"] == track.senders.size() + 1);
      track.senders.push_back(from);
    } else {
      // A read from a random device of a random seq that exists, without waiting for it.
      auto seq = 1 + random() % track.senders.size();
      devices[random() % 3]->send(read_frame(conv, seq));
      track.cursor = std::max<uint64_t>(track.cursor, seq);
    }
  }
  for (auto& [conv, track] : tracks) {
    uint64_t expected = 0;
    for (auto seq = track.cursor + 1; seq <= track.senders.size(); ++seq)
      if (track.senders[seq - 1] != alice_account.user) ++expected;
    auto c = wait_read_seq(server.endpoint, alice_account, conv, track.cursor);
    CHECK(c["unread"] == expected);
    CHECK(c["last"]["seq"] == track.senders.size());
  }
}

TEST_CASE("group read counts: history read_count and pushed read_count after members read in random order") {
  imtest::TestServer server([](im::ServerOptions& o) { o.read_count_interval_ms = 50; });
  auto sender = imtest::connect_member(server.endpoint, server.account("sender"));
  std::vector<Member> readers;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) {
    readers.push_back(imtest::connect_member(server.endpoint, server.account("reader")));
    ids.push_back(readers.back().account.user);
  }
  auto gid = imtest::create_group(server.endpoint, sender.account, ids)["group"].get<uint64_t>();
  auto conv = imtest::group_conv(gid);
  constexpr uint64_t kMessages = 5;
  for (uint64_t i = 1; i <= kMessages; ++i) {
    sender.conn->send(group_message(gid, "m"));
    CHECK(sender.reader->next("send_ack")["seq"] == i);
  }
  // A read by the sender itself counts for nothing (count excludes the sender).
  sender.conn->send(read_frame(conv, kMessages));
  sender.reader->next("read");

  std::mt19937 random(7);
  std::vector<uint64_t> cursor(readers.size(), 0);
  std::vector<std::pair<size_t, uint64_t>> reads;
  for (size_t r = 0; r < readers.size(); ++r)
    for (int k = 0; k < 3; ++k) reads.emplace_back(r, 1 + random() % kMessages);
  std::shuffle(reads.begin(), reads.end(), random);
  for (auto [r, seq] : reads) {
    readers[r].conn->send(read_frame(conv, seq));
    cursor[r] = std::max(cursor[r], seq);
  }
  // Each reader sees its own `read` event for its final cursor once that is durable.
  for (size_t r = 0; r < readers.size(); ++r)
    readers[r].reader->next_matching([&](const json& f) { return f["type"] == "read" && f["seq"] == cursor[r]; });

  auto expected = [&](uint64_t seq) {
    return static_cast<uint64_t>(std::count_if(cursor.begin(), cursor.end(), [&](uint64_t c) { return c >= seq; }));
  };
  auto history = api(server.endpoint, "GET", "/api/conversations/" + conv + "/messages", sender.account);
  REQUIRE(history.status == 200);
  REQUIRE(history.body["messages"].size() == kMessages);
  for (const auto& m : history.body["messages"]) CHECK(m["read_count"] == expected(m["seq"].get<uint64_t>()));

  // The sender's device was told each changed count; the last push per message is the count now.
  std::map<uint64_t, uint64_t> pushed;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto settled = [&] {
    for (uint64_t seq = 1; seq <= kMessages; ++seq)
      if (expected(seq) > 0 && pushed[seq] != expected(seq)) return false;
    return true;
  };
  while (!settled() && std::chrono::steady_clock::now() < deadline) {
    auto f = sender.reader->next_matching([](const json& x) { return x["type"] == "read_count"; }, 10s);
    if (f.is_null()) break;
    CHECK(f["conv"] == conv);
    auto seq = f["seq"].get<uint64_t>();
    CHECK(f["count"].get<uint64_t>() >= pushed[seq]);  // counts only grow here
    pushed[seq] = f["count"].get<uint64_t>();
  }
  for (uint64_t seq = 1; seq <= kMessages; ++seq) CHECK(pushed[seq] == expected(seq));
  // Readers are not told read counts of messages that are not theirs.
  for (auto& r : readers)
    for (const auto& f : r.reader->drain(100ms)) CHECK(f["type"] != "read_count");
}

TEST_CASE("read_count pushes are coalesced: a burst of reads gives at most one push per interval") {
  imtest::TestServer server([](im::ServerOptions& o) { o.read_count_interval_ms = 800; });
  auto sender = imtest::connect_member(server.endpoint, server.account("sender"));
  std::vector<Member> readers;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    readers.push_back(imtest::connect_member(server.endpoint, server.account("reader")));
    ids.push_back(readers.back().account.user);
  }
  auto gid = imtest::create_group(server.endpoint, sender.account, ids)["group"].get<uint64_t>();
  sender.conn->send(group_message(gid, "read me"));
  sender.reader->next("send_ack");
  auto start = std::chrono::steady_clock::now();
  for (auto& r : readers) r.conn->send(read_frame(imtest::group_conv(gid), 1));
  std::vector<std::pair<uint64_t, std::chrono::steady_clock::duration>> pushes;
  while (pushes.empty() || pushes.back().first < readers.size()) {
    auto f = sender.reader->next("read_count", 5s);
    if (f.is_null()) break;
    pushes.emplace_back(f["count"].get<uint64_t>(), std::chrono::steady_clock::now() - start);
  }
  REQUIRE(!pushes.empty());
  CHECK(pushes.back().first == readers.size());
  // Four reads within a few milliseconds: the first push at once, the rest folded into one.
  CHECK(pushes.size() <= 2);
  if (pushes.size() == 2) CHECK(pushes[1].second - pushes[0].second >= 700ms);
}

TEST_CASE("group reads: members only; the cursor stops at the newest message") {
  imtest::TestServer server;
  auto alice = imtest::connect_member(server.endpoint, server.account("alice"));
  auto bob = imtest::connect_member(server.endpoint, server.account("bob"));
  auto eve = imtest::connect_member(server.endpoint, server.account("eve"));
  auto gid = imtest::create_group(server.endpoint, alice.account, {bob.account.user})["group"].get<uint64_t>();
  auto conv = imtest::group_conv(gid);
  alice.conn->send(group_message(gid, "one"));
  alice.reader->next("send_ack");
  eve.conn->send(read_frame(conv, 1));
  CHECK(eve.reader->next("error")["code"] == "not_member");
  eve.conn->send(read_frame("g:987654", 1));
  CHECK(eve.reader->next("error")["code"] == "no_such_group");
  bob.conn->send(read_frame(conv, 50));
  auto event = bob.reader->next("read");
  CHECK(event["seq"] == 1);
  CHECK(event["reader"] == bob.account.user);
  CHECK(event["conv"] == conv);
  // In a group only the reader's own inbox gets the event; the sender gets read_count.
  auto count = alice.reader->next("read_count");
  CHECK(count["seq"] == 1);
  CHECK(count["count"] == 1);
  for (const auto& f : alice.reader->drain(200ms)) CHECK(f["type"] != "read");
}

TEST_CASE("read_count follows membership: a reader who leaves is no longer counted, one who returns is again") {
  imtest::TestServer server([](im::ServerOptions& o) { o.read_count_interval_ms = 50; });
  auto sender = imtest::connect_member(server.endpoint, server.account("sender"));
  auto reader = imtest::connect_member(server.endpoint, server.account("reader"));
  auto other = imtest::connect_member(server.endpoint, server.account("other"));
  auto gid = imtest::create_group(server.endpoint, sender.account, {reader.account.user, other.account.user})["group"]
                 .get<uint64_t>();
  auto conv = imtest::group_conv(gid);
  sender.conn->send(group_message(gid, "read me"));
  REQUIRE(sender.reader->next("send_ack")["seq"] == 1);

  reader.conn->send(read_frame(conv, 1));
  CHECK(sender.reader->next("read_count", 10s)["count"] == 1);

  auto member_path = "/api/groups/" + std::to_string(gid) + "/members/" + std::to_string(reader.account.user);
  REQUIRE(api(server.endpoint, "DELETE", member_path, reader.account).status == 204);  // leaves
  auto fewer = sender.reader->next("read_count", 10s);
  CHECK(fewer["seq"] == 1);
  CHECK(fewer["count"] == 0);

  // Back in the group, the reader finds the cursor it left with, and counts again.
  REQUIRE(api(server.endpoint, "POST", "/api/groups/" + std::to_string(gid) + "/members", sender.account,
              json{{"users", {reader.account.user}}})
              .status == 200);
  auto again = sender.reader->next("read_count", 10s);
  CHECK(again["seq"] == 1);
  CHECK(again["count"] == 1);
}
