// A device's stored {cursor, next_cseq} has one writer, the user actor (issue 21): whatever order
// the writes of one-to-one and group sends land in, after kill -9 a device resumes with the
// next_cseq after its last acknowledged send and a cursor that never moved back.

#include <doctest/doctest.h>

#include <signal.h>

#include "support/group_helpers.hpp"
#include "support/inbox_reader.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using imclient::Connection;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kArgs = {"--password-hash-cost", "min", "--log-level", "warn",
                                        "--rate-sends-per-s",   "0",   "--rate-frames-per-s", "0"};

json with_cseq(json frame, uint64_t cseq) {
  frame["cseq"] = cseq;
  return frame;
}

}  // namespace

TEST_CASE("next_cseq after kill -9 follows the last acknowledged send, group and direct interleaved") {
  imtest::TempDir dir;
  // Several devices each alternate group and one-to-one sends in one burst: the group's write is
  // made by another actor, later than the one-to-one write queued after it.
  const int devices = 8, pairs = 10;
  imclient::Account alice, bob;
  {
    imtest::ServerProcess server(dir.path(), kArgs);
    alice = imclient::register_and_login(server.endpoint, "rec_alice", "password123");
    bob = imclient::register_and_login(server.endpoint, "rec_bob", "password123");
    auto group = imtest::create_group(server.endpoint, alice, {bob.user})["group"].get<uint64_t>();
    std::vector<std::unique_ptr<Connection>> conns;
    for (int d = 0; d < devices; ++d) {
      json ok;
      conns.push_back(imclient::connect_authed(server.endpoint, alice.token, "dev" + std::to_string(d), &ok));
      REQUIRE(ok["next_cseq"] == 1);
    }
    for (int d = 0; d < devices; ++d)
      for (int k = 0; k < pairs; ++k) {
        conns[d]->send(with_cseq(imtest::group_message(group, "g"), 2 * k + 1));
        conns[d]->send(with_cseq(imclient::text_message(bob.user, "d"), 2 * k + 2));
      }
    for (auto& c : conns)
      for (int i = 0; i < 2 * pairs; ++i) c->expect("send_ack", 10s);
    server.stop(SIGKILL);  // no disconnect, no clean stop: only the writes that carried a record count
  }
  imtest::ServerProcess server(dir.path(), kArgs);
  for (int d = 0; d < devices; ++d) {
    CAPTURE(d);
    json ok;
    auto conn = imclient::connect_authed(server.endpoint, alice.token, "dev" + std::to_string(d), &ok);
    CHECK(ok["next_cseq"] == 2 * pairs + 1);
    // The next send in the device's numbering is applied at once: no hold, no seq_gap.
    conn->send(with_cseq(imclient::text_message(bob.user, "next"), 2 * pairs + 1));
    auto frame = conn->next(1s);
    while (frame && (*frame)["type"] == "msg") frame = conn->next(1s);
    REQUIRE(frame);
    CHECK((*frame)["type"] == "send_ack");
  }
}

TEST_CASE("a device's acknowledged cursor never moves back when a group send of it lands later") {
  imtest::TempDir dir;
  // Acknowledged cursors are written at once (--cursor-flush-ms 0). Each user sends a group message
  // and, right behind it, acknowledges what it was pushed: the ack's write is queued while the
  // group's write (made by the group actor) may still be to come.
  auto args = kArgs;
  args.insert(args.end(), {"--cursor-flush-ms", "0"});
  const int users = 8, pushed = 3;
  imclient::Account bob;
  std::vector<imclient::Account> senders;
  {
    imtest::ServerProcess server(dir.path(), args);
    bob = imclient::register_and_login(server.endpoint, "cur_bob", "password123");
    auto b = imclient::connect_authed(server.endpoint, bob.token, "bob");
    for (int u = 0; u < users; ++u) {
      CAPTURE(u);
      senders.push_back(imclient::register_and_login(server.endpoint, "cur_u" + std::to_string(u), "password123"));
      auto& me = senders.back();
      auto group = imtest::create_group(server.endpoint, me, {bob.user})["group"].get<uint64_t>();
      auto conn = imclient::connect_authed(server.endpoint, me.token, "phone", nullptr,
                                           imclient::Transport::websocket, imclient::Encoding::json, 0);
      // The group's `created` event is useq 1; Bob's messages follow.
      for (int i = 0; i < pushed; ++i) {
        b->send(imclient::text_message(me.user, "before"));
        b->expect("send_ack");
      }
      imtest::InboxReader inbox(*conn);
      REQUIRE(inbox.collect(pushed + 1, 5s, /*ack=*/false));
      conn->send(with_cseq(imtest::group_message(group, "g"), 1));
      conn->send({{"type", "ack"}, {"useq", pushed + 1}});
      conn->expect("send_ack");
      // The user actor handles the ack before this send, and writes land in the order they were
      // queued: once this is acknowledged, the ack's cursor write is in the log.
      conn->send(imclient::text_message(bob.user, "after"));
      conn->expect("send_ack");
    }
    server.stop(SIGKILL);
  }
  imtest::ServerProcess server(dir.path(), args);
  for (int u = 0; u < users; ++u) {
    CAPTURE(u);
    auto conn = imclient::connect_authed(server.endpoint, senders[u].token, "phone");
    imtest::InboxReader again(*conn);
    REQUIRE(again.collect(1, 5s));
    // The first push is the own group message after the acknowledged events, none of those again.
    CHECK(again.events().front()["useq"] == pushed + 2);
  }
}
