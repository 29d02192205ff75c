// `imserver migrate --from-leveldb DIR --to-postgres CONNINFO` round trip: a data directory made by
// a real server on LevelDB (users, one-to-one and group messages, cursors, friends, a file) is
// copied with the file's bytes into a private PostgreSQL, copied again (a rerun after an interruption is harmless), and
// a server on PostgreSQL then serves the same accounts, messages, cursors, friends and file, and
// numbers on where the old one stopped.

#include <doctest/doctest.h>

#include <signal.h>

#include "support/group_helpers.hpp"
#include "support/inbox_reader.hpp"
#include "support/postgres.hpp"
#include "support/server_process.hpp"
#include "support/social_helpers.hpp"
#include "support/test_server.hpp"

using imtest::api;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("migrate: a LevelDB data directory round trip into PostgreSQL") {
  imtest::TempDir data;
  const std::vector<std::string> common = {"--password-hash-cost", "min", "--log-level", "warn",
                                           "--register-per-min-per-ip", "0"};
  imclient::Account alice, bob, carol;
  uint64_t group = 0, bob_useq = 0, alice_cursor = 0;
  std::string file_url;
  {
    // On LevelDB: explicitly, whichever pass this runs in.
    imtest::ServerProcess leveldb(data.path(), common);
    alice = imclient::register_and_login(leveldb.endpoint, "alice", "password123");
    bob = imclient::register_and_login(leveldb.endpoint, "bob", "password123");
    carol = imclient::register_and_login(leveldb.endpoint, "carol", "password123");
    imtest::befriend(leveldb.endpoint, alice, bob);
    group = imtest::create_group(leveldb.endpoint, alice, {bob.user, carol.user})["group"].get<uint64_t>();
    auto a = imclient::connect_authed(leveldb.endpoint, alice.token, "phone");
    for (int i = 0; i < 5; ++i) {
      a->send(imclient::text_message(bob.user, "direct " + std::to_string(i)));
      a->expect("send_ack");
      a->send(imtest::group_message(group, "group " + std::to_string(i)));
      a->expect("send_ack");
    }
    // Alice's phone acknowledges everything it got: its cursor is stored on the clean stop.
    imtest::InboxReader reader(*a);
    reader.collect(10, 10s);
    alice_cursor = reader.last_useq();
    a->close();
    auto upload = imclient::http(leveldb.endpoint, "POST", "/api/files", "file bytes", alice.token, "text/plain");
    REQUIRE(upload.status == 201);
    file_url = upload.json()["url"].get<std::string>();
    json auth_ok;
    auto b = imclient::connect_authed(leveldb.endpoint, bob.token, "tablet", &auth_ok);
    bob_useq = auth_ok["useq"].get<uint64_t>();
    CHECK(leveldb.stop(SIGTERM) == 0);
  }
  REQUIRE(alice_cursor > 0);

  imtest::PrivatePostgres postgres;
  auto conninfo = postgres.database("migrated");
  auto first = imtest::run_imserver("migrate --from-leveldb " + data.path() + " --to-postgres '" + conninfo + "'");
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(first.output.find(" 1 files from") != std::string::npos);
  CHECK(first.output.find("every file read back and identical") != std::string::npos);
  auto again = imtest::run_imserver("migrate --from-leveldb " + data.path() + " --to-postgres '" + conninfo + "'");
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("resumed an earlier run") != std::string::npos);
  // Into a database that holds something else: refused.
  imtest::TempDir other;
  {
    imtest::ServerProcess filler(other.path(), {"--postgres", postgres.database("busy"), "--password-hash-cost", "min"});
    imclient::register_user(filler.endpoint, "someone", "password123");
  }
  auto refused = imtest::run_imserver("migrate --from-leveldb " + data.path() + " --to-postgres '" +
                                      postgres.database("busy") + "'");
  CHECK(refused.exit_code == 1);
  CHECK(refused.output.find("not empty") != std::string::npos);

  // On PostgreSQL, with a new data directory: the files were copied into the database too.
  auto args = common;
  args.insert(args.end(), {"--postgres", conninfo});
  imtest::TempDir fresh;
  imtest::ServerProcess server(fresh.path(), args);
  auto alice2 = imclient::login(server.endpoint, "alice", "password123");
  CHECK(alice2.user == alice.user);
  CHECK(imclient::http(server.endpoint, "GET", "/api/friends", "", alice2.token).json()["friends"] == json{bob.user});
  auto history = api(server.endpoint, "GET", "/api/conversations/" + imclient::conv_id_user(alice.user, bob.user) +
                                              "/messages", alice2);
  REQUIRE(history.status == 200);
  CHECK(history.body["messages"].size() == 5);
  auto file = imclient::http(server.endpoint, "GET", file_url, "", alice2.token);
  CHECK(file.status == 200);
  CHECK(file.body == "file bytes");

  // Alice's phone resumes after its stored cursor: nothing it acknowledged comes again.
  json auth_ok;
  auto phone = imclient::connect_authed(server.endpoint, alice2.token, "phone", &auth_ok);
  CHECK(auth_ok["useq"].get<uint64_t>() == alice_cursor);
  phone->send(imtest::group_message(group, "after the move"));
  auto ack = phone->expect("send_ack");
  CHECK(ack["seq"] == 6);  // the group's numbering goes on
  auto echo = phone->expect("msg");
  CHECK(echo["useq"] == alice_cursor + 1);  // so does alice's inbox
  // Bob's whole inbox, on a new device: what he had plus the new message, gapless.
  auto bob2 = imclient::login(server.endpoint, "bob", "password123");
  auto b = imclient::connect_authed(server.endpoint, bob2.token, "new", nullptr, imclient::Transport::websocket,
                                    imclient::Encoding::json, 0);
  imtest::InboxReader reader(*b);
  CHECK(reader.collect(bob_useq + 1, 10s));
  CHECK(reader.gaps().empty());
  CHECK(reader.events().back()["body"]["text"] == "after the move");
  // New ids go on from the old counters.
  CHECK(imclient::register_user(server.endpoint, "dave", "password123") == carol.user + 1);
}
