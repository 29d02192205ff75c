// PROTOCOL.md section 8: the admin API over real sockets: who may use it, and that what it shows
// is the live state of connections and users.

#include <doctest/doctest.h>

#include "integration/ops_support.hpp"

using imclient::Connection;
using imclient::Encoding;
using imclient::Transport;
using nlohmann::json;
using opstest::admin_get;
using opstest::admin_json;
using opstest::admin_post;
using opstest::eventually;
using namespace std::chrono_literals;

namespace {

// The entry of /admin/connections for (user, device), or null.
json find_connection(const json& answer, uint64_t user, const std::string& device) {
  for (const auto& c : answer["connections"])
    if (c["user"] == user && c["device"] == device) return c;
  return nullptr;
}

json find_device(const json& user, const std::string& device) {
  for (const auto& d : user["devices"])
    if (d["device"] == device) return d;
  return nullptr;
}

}  // namespace

TEST_CASE("without an admin token every /admin route is 404") {
  imtest::TestServer server;
  for (const char* target : {"/admin/status", "/admin/connections", "/admin/users", "/admin/nope"}) {
    auto res = admin_get(server.endpoint, target, "anything");
    CHECK(res.status == 404);
    CHECK(opstest::error_code(res) == "not_found");
  }
  CHECK(admin_post(server.endpoint, "/admin/notice", json{{"all", true}, {"body", json::object()}}).status == 404);
}

TEST_CASE("admin auth: 401 without a token, 403 with a wrong one, 200 with the right one") {
  imtest::TestServer server(opstest::with_admin());
  auto none = imclient::http(server.endpoint, "GET", "/admin/status");
  CHECK(none.status == 401);
  CHECK(opstest::error_code(none) == "unauthorized");
  auto wrong = admin_get(server.endpoint, "/admin/status", "not-the-token");
  CHECK(wrong.status == 403);
  CHECK(opstest::error_code(wrong) == "forbidden");
  // A prefix of the right token is still wrong (the comparison covers the whole length).
  CHECK(admin_get(server.endpoint, "/admin/status", opstest::kAdminToken.substr(0, 5)).status == 403);
  CHECK(admin_get(server.endpoint, "/admin/status").status == 200);
  // A user's token is not an admin token.
  auto account = server.account();
  CHECK(admin_get(server.endpoint, "/admin/status", account.token).status == 403);
  auto unknown = admin_get(server.endpoint, "/admin/nothing-here");
  CHECK(unknown.status == 404);
}

TEST_CASE("--admin-bind: other client addresses get 403 forbidden; 0.0.0.0 answers any") {
  {
    imtest::TestServer server(opstest::with_admin([](im::ServerOptions& o) { o.admin_bind = "10.9.8.7"; }));
    auto res = admin_get(server.endpoint, "/admin/status");
    CHECK(res.status == 403);
    CHECK(opstest::error_code(res) == "forbidden");
    // The rest of the server is unaffected.
    CHECK(imclient::http(server.endpoint, "GET", "/healthz").status == 200);
  }
  {
    imtest::TestServer server(opstest::with_admin([](im::ServerOptions& o) { o.admin_bind = "0.0.0.0"; }));
    CHECK(admin_get(server.endpoint, "/admin/status").status == 200);
  }
}

TEST_CASE("status, connections and users show live connections, devices and ACK windows") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account("alice");
  auto bob = server.account("bob");
  auto before = admin_json(server.endpoint, "/admin/status");
  for (const char* key : {"uptime_s", "connections", "users_online", "actors", "messages_per_s", "store_bytes"})
    CHECK_MESSAGE(before.contains(key), key);
  CHECK(before["connections"] == 0);
  CHECK(before["users_online"] == 0);

  auto phone = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto laptop = imclient::connect_authed(server.endpoint, alice.token, "laptop", nullptr, Transport::raw_tcp);
  auto tablet = imclient::connect_authed(server.endpoint, bob.token, "tablet", nullptr, Transport::websocket,
                                         Encoding::msgpack);
  auto anonymous = Connection::open(server.endpoint, Transport::websocket, Encoding::json);
  anonymous->expect("auth_required");

  auto status = admin_json(server.endpoint, "/admin/status");
  CHECK(status["connections"] == 4);
  CHECK(status["users_online"] == 2);
  CHECK(status["actors"]["connection"] == 4);
  CHECK(status["actors"]["user"].get<uint64_t>() >= 2);
  CHECK(status["actors"].contains("group"));
  CHECK(status["uptime_s"].get<int64_t>() >= 0);

  // Alice sends Bob three messages; Bob's tablet does not acknowledge them.
  for (int i = 0; i < 3; ++i) {
    phone->send(imclient::text_message(bob.user, "hello " + std::to_string(i)));
    phone->expect("send_ack");
  }
  for (int i = 0; i < 3; ++i) tablet->expect("msg");

  json answer;
  REQUIRE(eventually([&] {
    answer = admin_json(server.endpoint, "/admin/connections");
    auto c = find_connection(answer, bob.user, "tablet");
    return !c.is_null() && c["unacked"] == 3;
  }));
  CHECK(answer["connections"].size() == 4);
  auto c_phone = find_connection(answer, alice.user, "phone");
  auto c_laptop = find_connection(answer, alice.user, "laptop");
  auto c_tablet = find_connection(answer, bob.user, "tablet");
  REQUIRE(!c_phone.is_null());
  REQUIRE(!c_laptop.is_null());
  CHECK(c_phone["transport"] == "ws");
  CHECK(c_phone["encoding"] == "json");
  CHECK(c_laptop["transport"] == "tcp");
  CHECK(c_tablet["encoding"] == "msgpack");
  CHECK(c_phone["address"] == "127.0.0.1");
  for (const char* key : {"since", "frames_in", "frames_out", "bytes_in", "bytes_out", "unacked"})
    CHECK_MESSAGE(c_phone.contains(key), key);
  CHECK(c_phone["frames_in"].get<uint64_t>() >= 4);   // auth + 3 sends
  CHECK(c_phone["frames_out"].get<uint64_t>() >= 5);  // auth_required, auth_ok, 3 send_acks
  CHECK(c_phone["bytes_in"].get<uint64_t>() > 0);
  CHECK(c_phone["bytes_out"].get<uint64_t>() > 0);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(c_phone["since"].get<int64_t>() <= now);
  CHECK(c_phone["since"].get<int64_t>() > now - 60000);
  // The connection that has not authenticated is listed without user or device.
  bool saw_anonymous = false;
  for (const auto& c : answer["connections"])
    if (c["user"].is_null()) saw_anonymous = c["device"].is_null() && c["transport"] == "ws";
  CHECK(saw_anonymous);

  auto users = admin_json(server.endpoint, "/admin/users");
  REQUIRE(users["users"].size() == 2);
  CHECK(users["users"][0]["user"] == std::min(alice.user, bob.user));
  for (const auto& u : users["users"]) CHECK(u["devices"] == (u["user"] == alice.user ? 2 : 1));

  // Bob acknowledges two of the three: the window shrinks to one.
  tablet->send({{"type", "ack"}, {"useq", 2}});
  json bob_view;
  REQUIRE(eventually([&] {
    bob_view = admin_json(server.endpoint, "/admin/users/" + std::to_string(bob.user));
    auto d = find_device(bob_view, "tablet");
    return !d.is_null() && d["unacked"] == 1;
  }));
  CHECK(bob_view["user"] == bob.user);
  CHECK(bob_view["online"] == true);
  CHECK(bob_view["useq"] == 3);
  CHECK(bob_view.contains("dedup_entries"));
  CHECK(bob_view.contains("mailbox"));
  auto d = find_device(bob_view, "tablet");
  CHECK(d["cursor"] == 2);
  CHECK(d["next_cseq"] == 1);
  CHECK(d["held"] == 0);

  auto alice_view = admin_json(server.endpoint, "/admin/users/" + std::to_string(alice.user));
  CHECK(alice_view["devices"].size() == 2);
  CHECK(alice_view["dedup_entries"] == 3);
}

TEST_CASE("a user actor keeps in memory only the events a connected device has not acknowledged") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account("alice");
  auto bob = server.account("bob");
  auto sender = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto phone = imclient::connect_authed(server.endpoint, bob.token, "phone");
  auto laptop = imclient::connect_authed(server.endpoint, bob.token, "laptop");
  auto bob_view = [&] { return admin_json(server.endpoint, "/admin/users/" + std::to_string(bob.user)); };
  auto cursor_of = [&](const json& view, const std::string& device) {
    auto d = find_device(view, device);
    return d.is_null() ? uint64_t{0} : d["cursor"].get<uint64_t>();
  };
  for (int i = 0; i < 3; ++i) {
    sender->send(imclient::text_message(bob.user, "hello " + std::to_string(i)));
    sender->expect("send_ack");
  }
  for (int i = 0; i < 3; ++i) {
    phone->expect("msg");
    laptop->expect("msg");
  }
  CHECK(bob_view()["cached_events"] == 3);
  // The phone has all three, the laptop not yet: all three stay.
  phone->send({{"type", "ack"}, {"useq", 3}});
  json view;
  REQUIRE(eventually([&] { return cursor_of(view = bob_view(), "phone") == 3; }));
  CHECK(view["cached_events"] == 3);
  // The laptop has two: only the third stays.
  laptop->send({{"type", "ack"}, {"useq", 2}});
  REQUIRE(eventually([&] { return cursor_of(view = bob_view(), "laptop") == 2; }));
  CHECK(view["cached_events"] == 1);
  // The laptop goes away: every device still connected has everything.
  laptop->close();
  REQUIRE(eventually([&] { return (view = bob_view())["devices"].size() == 1; }));
  CHECK(view["cached_events"] == 0);
  // A new event is kept until the phone acknowledges it.
  sender->send(imclient::text_message(bob.user, "later"));
  sender->expect("send_ack");
  auto later = phone->expect("msg");
  CHECK(bob_view()["cached_events"] == 1);
  phone->send({{"type", "ack"}, {"useq", later["useq"]}});
  REQUIRE(eventually([&] { return cursor_of(view = bob_view(), "phone") == 4; }));
  CHECK(view["cached_events"] == 0);
  // With no device connected nothing is kept; a device that comes back reads the store, in order.
  phone->close();
  REQUIRE(eventually([&] { return (view = bob_view())["devices"].empty(); }));
  for (int i = 0; i < 2; ++i) {
    sender->send(imclient::text_message(bob.user, "offline " + std::to_string(i)));
    sender->expect("send_ack");
  }
  CHECK(bob_view()["cached_events"] == 0);
  auto back = imclient::connect_authed(server.endpoint, bob.token, "phone");
  CHECK(back->expect("msg")["useq"] == 5);
  CHECK(back->expect("msg")["useq"] == 6);
}

TEST_CASE("cursor_stored follows every cursor move: a replaced connection, sync, since") {
  // A flush interval far longer than the test: only the moves that write at once show here.
  imtest::TestServer server(opstest::with_admin([](im::ServerOptions& o) { o.cursor_flush_ms = 60000; }));
  auto alice = server.account("alice");
  auto bob = server.account("bob");
  auto sender = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto phone = imclient::connect_authed(server.endpoint, bob.token, "phone");
  for (int i = 0; i < 3; ++i) {
    sender->send(imclient::text_message(bob.user, "hello " + std::to_string(i)));
    sender->expect("send_ack");
  }
  for (int i = 0; i < 3; ++i) phone->expect("msg");
  auto phone_view = [&] {
    return find_device(admin_json(server.endpoint, "/admin/users/" + std::to_string(bob.user)), "phone");
  };
  phone->send({{"type", "ack"}, {"useq", 3}});
  json d;
  REQUIRE(eventually([&] { return (d = phone_view())["cursor"] == 3; }));
  CHECK(d["cursor_stored"] == 0);  // deferred: the next flush is a minute away
  // The same device connects again: the old connection's unwritten cursor is written first.
  auto again = imclient::connect_authed(server.endpoint, bob.token, "phone");
  d = phone_view();
  CHECK(d["cursor"] == 3);
  CHECK(d["cursor_stored"] == 3);
  // sync moves the cursor back; the move is scheduled like an ack (here: for the next flush).
  again->send({{"type", "sync"}, {"since", 1}});
  REQUIRE(eventually([&] { return (d = phone_view())["cursor"] == 1; }));
  CHECK(d["cursor_stored"] == 3);
  // A disconnect writes it; connecting with `since` moves it again.
  again->close();
  REQUIRE(again->wait_closed(5s));
  auto with_since = imclient::connect_authed(server.endpoint, bob.token, "phone", nullptr, Transport::websocket,
                                             Encoding::json, 2);
  d = phone_view();
  CHECK(d["cursor"] == 2);
  CHECK(d["cursor_stored"] == 1);  // what the disconnect wrote; the move to 2 waits for the flush
  with_since->close();
  REQUIRE(with_since->wait_closed(5s));
  server.restart();
  auto after = imclient::connect_authed(server.endpoint, bob.token, "phone");
  CHECK(after->expect("msg")["useq"] == 3);  // the disconnect wrote cursor 2
}

TEST_CASE("a held send shows in the user's view; unknown and offline users") {
  imtest::TestServer server(opstest::with_admin([](im::ServerOptions& o) { o.reorder_ms = 60000; }));
  auto alice = server.account();
  auto bob = server.account();
  auto phone = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto early = imclient::text_message(bob.user, "second");
  early["cseq"] = 2;
  phone->send(early);
  json view;
  REQUIRE(eventually([&] {
    view = admin_json(server.endpoint, "/admin/users/" + std::to_string(alice.user));
    auto d = find_device(view, "phone");
    return !d.is_null() && d["held"] == 1;
  }));
  CHECK(find_device(view, "phone")["next_cseq"] == 1);

  // Bob never connected: answered from the store.
  auto bob_view = admin_json(server.endpoint, "/admin/users/" + std::to_string(bob.user));
  CHECK(bob_view["online"] == false);
  CHECK(bob_view["devices"].empty());
  CHECK(bob_view["useq"] == 0);
  CHECK(bob_view["cached_events"] == 0);

  auto missing = admin_get(server.endpoint, "/admin/users/987654321");
  CHECK(missing.status == 404);
  CHECK(admin_get(server.endpoint, "/admin/users/not-a-number").status == 404);
  CHECK(admin_get(server.endpoint, "/admin/groups/987654321").status == 404);
}

TEST_CASE("kick: one device or all of them get `kicked` admin, then 4004") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account();
  auto phone = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto laptop = imclient::connect_authed(server.endpoint, alice.token, "laptop", nullptr, Transport::raw_tcp);
  auto web = imclient::connect_authed(server.endpoint, alice.token, "web");
  auto target = "/admin/users/" + std::to_string(alice.user) + "/kick";

  auto one = imclient::require_status(admin_post(server.endpoint, target, json{{"device", "phone"}}), 200, "kick");
  CHECK(one["kicked"] == 1);
  CHECK(phone->expect("kicked")["reason"] == "admin");
  CHECK(phone->wait_closed(5s) == 4004);
  // The others are untouched.
  web->send({{"type", "ping"}});
  web->expect("pong");

  auto rest = imclient::require_status(admin_post(server.endpoint, target, json::object()), 200, "kick all");
  CHECK(rest["kicked"] == 2);
  CHECK(laptop->expect("kicked")["reason"] == "admin");
  CHECK(laptop->wait_closed(5s) == 4004);
  CHECK(web->expect("kicked")["reason"] == "admin");
  CHECK(web->wait_closed(5s) == 4004);
  REQUIRE(eventually([&] { return admin_json(server.endpoint, "/admin/status")["users_online"] == 0; }));

  // Nobody left to kick; an empty body is fine; a bad device is refused; unknown users are 404.
  CHECK(imclient::require_status(imclient::http(server.endpoint, "POST", target, "", opstest::kAdminToken), 200,
                                 "kick nobody")["kicked"] == 0);
  CHECK(admin_post(server.endpoint, target, json{{"device", 7}}).status == 400);
  CHECK(admin_post(server.endpoint, "/admin/users/987654321/kick", json::object()).status == 404);
}

TEST_CASE("notice: to one user, to everyone online; it is an inbox event") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account();
  auto bob = server.account();
  auto carol = server.account();  // offline
  json ok;
  auto a = imclient::connect_authed(server.endpoint, alice.token, "phone");
  auto b = imclient::connect_authed(server.endpoint, bob.token, "phone", &ok);

  auto to_bob = imclient::require_status(
      admin_post(server.endpoint, "/admin/notice", json{{"user", bob.user}, {"body", {{"text", "maintenance"}}}}), 200,
      "notice bob");
  CHECK(to_bob["delivered"] == 1);
  auto notice = b->expect("notice");
  CHECK(notice["useq"] == ok["useq"].get<uint64_t>() + 1);
  CHECK(notice["body"] == json{{"text", "maintenance"}});
  CHECK(notice["ts"].get<int64_t>() > 1700000000000LL);
  b->send({{"type", "ack"}, {"useq", notice["useq"]}});

  auto to_all = imclient::require_status(
      admin_post(server.endpoint, "/admin/notice", json{{"all", true}, {"body", {{"text", "restart at noon"}}}}), 200,
      "notice all");
  CHECK(to_all["delivered"] == 2);
  CHECK(a->expect("notice")["body"]["text"] == "restart at noon");
  CHECK(b->expect("notice")["body"]["text"] == "restart at noon");

  // Carol was offline: the notice to her waits in her inbox.
  CHECK(imclient::require_status(
            admin_post(server.endpoint, "/admin/notice", json{{"user", carol.user}, {"body", {{"text", "hi"}}}}), 200,
            "notice carol")["delivered"] == 1);
  auto c = imclient::connect_authed(server.endpoint, carol.token, "phone", nullptr, Transport::websocket,
                                    Encoding::json, 0);
  CHECK(c->expect("notice")["body"]["text"] == "hi");

  // Bad requests.
  CHECK(admin_post(server.endpoint, "/admin/notice", json{{"body", {{"text", "x"}}}}).status == 400);
  CHECK(admin_post(server.endpoint, "/admin/notice", json{{"all", true}}).status == 400);
  CHECK(admin_post(server.endpoint, "/admin/notice", json{{"user", 987654321}, {"body", json::object()}}).status == 404);
  CHECK(admin_post(server.endpoint, "/admin/notice", json{{"group", 987654321}, {"body", json::object()}}).status == 404);
}

TEST_CASE("groups: the group's record, seq and read cursors") {
  imtest::TestServer server(opstest::with_admin());
  auto owner = server.account();
  auto member = server.account();
  auto created = imclient::http(server.endpoint, "POST", "/api/groups",
                                json{{"name", "ops"}, {"members", {member.user}}}.dump(), owner.token);
  REQUIRE_MESSAGE(created.status == 201, "POST /api/groups is needed here: " << created.body);
  auto gid = created.json()["group"].get<uint64_t>();
  auto conn = imclient::connect_authed(server.endpoint, owner.token, "phone");
  conn->send({{"type", "send"}, {"cid", imclient::fresh_cid()}, {"to", {{"group", gid}}}, {"body", {{"text", "hi"}}}});
  conn->expect("send_ack");
  auto g = admin_json(server.endpoint, "/admin/groups/" + std::to_string(gid));
  CHECK(g["group"] == gid);
  CHECK(g["name"] == "ops");
  CHECK(g["owner"] == owner.user);
  CHECK(g["members"] == json::array({std::min(owner.user, member.user), std::max(owner.user, member.user)}));
  CHECK(g["seq"] == 1);
  CHECK(g["read_cursors"].is_object());
}

TEST_CASE("metrics: the operations counters and histograms are exported") {
  imtest::TestServer server(opstest::with_admin());
  auto alice = server.account();
  auto bob = server.account();
  auto a = imclient::connect_authed(server.endpoint, alice.token, "phone");
  a->send(imclient::text_message(bob.user, "x"));
  a->expect("send_ack");
  auto text = imclient::http(server.endpoint, "GET", "/metrics").body;
  for (const char* name :
       {"imserver_connections_open 1", "imserver_connections_authenticated 1", "imserver_auth_failures_total",
        "imserver_frames_in_total", "imserver_bytes_out_total", "imserver_messages_accepted_total 1",
        "imserver_deliveries_total", "imserver_retransmits_total", "imserver_ack_timeouts_total",
        "imserver_dedup_hits_total", "imserver_reorder_holds_total", "imserver_inbox_appends_total",
        "imserver_connections_rejected_per_ip_total", "imserver_login_rate_limited_total",
        "imserver_socket_writes_blocked_total 0", "imserver_slow_client_closes_total 0",
        "imserver_store_write_seconds_bucket{le=\"+Inf\"}", "imserver_store_write_seconds_count",
        "imserver_send_ack_seconds_bucket{le=\"0.001\"}", "imserver_send_ack_seconds_count 1",
        "imserver_actors{kind=\"connection\"} 1", "imserver_actors{kind=\"user\"}"})
    CHECK_MESSAGE(text.find(name) != std::string::npos, std::string(name));
  // Store writes happened (registration, login, the message): the histogram counted them.
  auto pos = text.find("imserver_store_write_seconds_count ");
  REQUIRE(pos != std::string::npos);
  CHECK(std::stoull(text.substr(pos + 35)) >= 3);
}
