// The fault-injection harness (issue 21): the real binary is killed with SIGKILL at random moments
// under load, round after round, while users with several devices send one-to-one and group
// messages (a group of up to 200 members whose membership changes meanwhile), devices reconnect and
// resume from their cursors, and connections are cut mid-frame. Every send, send_ack, push and ack
// is recorded; at the end every send was resent with its cid until acknowledged, and the
// invariants are checked:
//   - every acknowledged message reached every device of every recipient exactly once after
//     useq filtering, and nothing else did (lost, duplicated);
//   - per device, useq is gapless and each conversation's seq increases (out of order);
//   - the devices of one user saw the same events under the same useq;
//   - per conversation, the acknowledged seqs are gapless (a resent cid was stored once);
//   - a device's cursor never moves back: the replay of a connection never starts below that of
//     an earlier connection to the same server process, and the first replay after a restart (the
//     stored cursor) never below the first after an earlier restart;
//   - every send carries its device's cseq (a resend the same one), and auth_ok.next_cseq never
//     moves back and never falls to or below a cseq that got a send_ack.
// Each round picks --fsync, --io-threads, small --user-idle-ms / --group-idle-ms (passivation)
// and --cursor-flush-ms at random.
//
// Environment: IMTEST_SEED replays a run (the seed is printed); IMTEST_SOAK_ROUNDS (default 4),
// IMTEST_SOAK_GROUP (members of the big group, default 40), IMTEST_SOAK_SENDS (new messages per
// user per round, default 30). scripts/soak runs it long. The last line it prints starts "soak:".

#include <doctest/doctest.h>

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "support/group_helpers.hpp"
#include "support/raw_ws.hpp"
#include "support/wire_cut.hpp"
#include "support/server_process.hpp"
#include "support/test_server.hpp"

using imclient::Connection;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

long env_or(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v ? std::stol(v) : fallback;
}

struct Message {
  std::string cid;
  size_t sender = 0;         // index into users
  bool group = false;
  size_t peer = 0;           // one-to-one: the recipient's index
  size_t device = 0;         // the sender's device that sends (and resends) it
  uint64_t cseq = 0;         // that device's number for it
  std::optional<std::pair<std::string, uint64_t>> ack;  // conv, seq from its send_ack
};

struct Device {
  std::string name;
  std::unique_ptr<Connection> conn;
  imclient::Transport transport = imclient::Transport::websocket;
  uint64_t last = 0;            // the highest useq processed (the client's own filter)
  std::vector<json> events;     // every inbox event processed, in order
  size_t gaps = 0;              // a processed useq that did not follow the previous one
  uint64_t cseqs_given = 0;     // the highest cseq handed to a message of this device
  uint64_t cseq_acknowledged = 0;  // the highest cseq that got a send_ack
  uint64_t next_cseq = 0;       // auth_ok.next_cseq of the latest connection since the last restart
  // A connection shows the device's cursor as min(its first pushed useq - 1, auth_ok.useq).
  // The first shown after a restart is the stored cursor: no connection before it acknowledged
  // anything. Later ones show the server's cursor in memory, which may run ahead of the stored.
  uint64_t stored_cursor = 0;                 // the highest stored cursor shown
  std::optional<uint64_t> cursor_this_run;    // the highest cursor shown since the last restart
  std::optional<uint64_t> head_at_auth;       // auth_ok.useq, until the connection's first push
};

Device named(std::string name) {
  Device d;
  d.name = std::move(name);
  return d;
}

struct User {
  imclient::Account account;
  std::vector<Device> devices;
};


json send_frame(const Message& m, uint64_t group, const std::vector<User>& users) {
  json to = m.group ? json{{"group", group}} : json{{"user", users[m.peer].account.user}};
  return {{"type", "send"}, {"cid", m.cid}, {"cseq", m.cseq}, {"to", to}, {"body", {{"cid", m.cid}}}};
}

class Soak {
 public:
  explicit Soak(uint32_t seed) : rng_(seed) {}

  void run() {
    rounds_ = env_or("IMTEST_SOAK_ROUNDS", 4);
    group_size_ = env_or("IMTEST_SOAK_GROUP", 40);
    sends_ = env_or("IMTEST_SOAK_SENDS", 30);
    setup();
    for (long round = 0; round < rounds_; ++round) one_round(round);
    final_round();
    check();
  }

 private:
  bool chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(rng_) < percent; }
  template <class T>
  T pick(T lo, T hi) {
    return std::uniform_int_distribution<T>(lo, hi)(rng_);
  }

  std::vector<std::string> args(bool crash_round) {
    // One address registers every user: the per-address registration limit is off.
    std::vector<std::string> a = {"--password-hash-cost", "min", "--log-level", "warn", "--rate-sends-per-s", "0",
                                  "--rate-frames-per-s", "0", "--ack-timeout-ms", "300", "--register-per-min-per-ip", "0",
                                  // Sends after one cut mid-frame wait for it at most this long.
                                  "--reorder-ms", "300"};
    if (!crash_round) return a;
    if (chance(50)) a.push_back("--fsync");
    a.insert(a.end(), {"--io-threads", chance(50) ? "2" : "1"});
    if (chance(50)) a.insert(a.end(), {"--user-idle-ms", "20", "--group-idle-ms", "20"});
    a.insert(a.end(), {"--cursor-flush-ms", chance(30) ? "0" : "200"});
    return a;
  }

  void setup() {
    imtest::ServerProcess server(dir_.path(), args(false));
    const size_t active = 4;
    for (size_t i = 0; i < active; ++i) {
      User u;
      u.account = imclient::register_and_login(server.endpoint, "soak" + std::to_string(i), "password123");
      for (int d = 0; d < 2; ++d) u.devices.push_back(named("d" + std::to_string(d)));
      users_.push_back(std::move(u));
    }
    std::vector<uint64_t> members;
    for (size_t i = 1; i < active; ++i) members.push_back(users_[i].account.user);
    for (long i = 0; i + static_cast<long>(active) < group_size_; ++i) {
      passive_.push_back(imclient::register_and_login(server.endpoint, "soakp" + std::to_string(i), "password123"));
      members.push_back(passive_.back().user);
    }
    group_ = imtest::create_group(server.endpoint, users_[0].account, members)["group"].get<uint64_t>();
    // Every device once from the start, so that each later resumes from its own stored cursor.
    for (auto& u : users_)
      for (auto& d : u.devices) {
        d.conn = imclient::connect_authed(server.endpoint, u.account.token, d.name, nullptr,
                                          imclient::Transport::websocket, imclient::Encoding::json, 0);
        drain(u, d, 300ms);
        d.conn->close();
        d.conn.reset();
      }
    server.stop(SIGTERM);
  }

  void connect_all(imtest::ServerProcess& server) {
    for (auto& u : users_)
      for (auto& d : u.devices) connect(server, u, d);
  }

  void connect(imtest::ServerProcess& server, User& u, Device& d) {
    d.transport = chance(50) ? imclient::Transport::raw_tcp : imclient::Transport::websocket;
    json auth_ok;
    d.conn = imclient::connect_authed(server.endpoint, u.account.token, d.name, &auth_ok, d.transport);
    auto next_cseq = auth_ok["next_cseq"].get<uint64_t>();
    if (next_cseq < d.next_cseq || next_cseq <= d.cseq_acknowledged) ++cseq_moved_back_;
    d.next_cseq = next_cseq;
    d.head_at_auth = auth_ok["useq"].get<uint64_t>();
  }

  // An ack, unless this client already dropped the connection (a mid-frame cut).
  static void ack(Device& d, uint64_t useq) {
    if (d.conn->closed()) return;
    try {
      d.conn->send({{"type", "ack"}, {"useq", useq}});
    } catch (const std::runtime_error&) {  // aborted between the check and the send
    }
  }

  // Checks the cursor that a connection's first push showed against those shown before.
  void see_cursor(Device& d, uint64_t cursor) {
    d.head_at_auth.reset();
    ++cursors_checked_;
    if (!d.cursor_this_run) {
      if (cursor < d.stored_cursor) ++cursor_moved_back_;
      d.stored_cursor = std::max(d.stored_cursor, cursor);
    } else if (cursor < *d.cursor_this_run) {
      ++cursor_moved_back_;
    }
    d.cursor_this_run = std::max(d.cursor_this_run.value_or(0), cursor);
  }

  // Handles one frame of `d`: a push is filtered by useq, recorded and (mostly) acknowledged.
  void handle(User& u, Device& d, const json& f) {
    auto type = f.value("type", "");
    if (f.contains("useq") && type != "auth_ok") {
      auto useq = f["useq"].get<uint64_t>();
      ++pushes_;
      if (d.head_at_auth) see_cursor(d, std::min(useq - 1, *d.head_at_auth));
      if (useq <= d.last) {  // already processed: acknowledged again, so that resends stop
        ack(d, d.last);
        return;
      }
      if (useq != d.last + 1) ++d.gaps;
      d.last = useq;
      d.events.push_back(f);
      if (chance(90) || d.events.size() % 8 == 0) ack(d, useq);
      return;
    }
    if (type == "send_ack") {
      auto it = by_cid_.find(f.value("cid", ""));
      if (it == by_cid_.end()) return;
      auto& m = messages_[it->second];
      std::pair<std::string, uint64_t> answer{f["conv"].get<std::string>(), f["seq"].get<uint64_t>()};
      if (m.ack && *m.ack != answer) ++changed_answers_;
      m.ack = answer;
      ++acks_this_round_;
      auto& by = users_[m.sender].devices[m.device];
      by.cseq_acknowledged = std::max(by.cseq_acknowledged, m.cseq);
    }
    (void)u;
  }

  void drain(User& u, Device& d, std::chrono::milliseconds quiet) {
    while (auto f = d.conn->next(quiet)) handle(u, d, *f);
  }

  // Takes what every connection has queued; when nothing was, waits up to 1 ms on one of them
  // (in turn). Returns whether anything arrived.
  // A connection the server closed (an ACK timeout on a loaded machine) is opened again.
  bool poll_all() {
    bool any = false;
    for (auto& u : users_)
      for (auto& d : u.devices) {
        if (!d.conn) continue;
        while (auto f = d.conn->next(0ms)) {
          handle(u, d, *f);
          any = true;
        }
        if (server_ && d.conn->closed()) {
          drain(u, d, 0ms);
          ++reconnects_;
          connect(*server_, u, d);
        }
      }
    if (any) return true;
    auto& u = users_[turn_ % users_.size()];
    auto& d = u.devices[(turn_ / users_.size()) % u.devices.size()];
    ++turn_;
    if (!d.conn) return false;
    auto f = d.conn->next(1ms);
    if (f) handle(u, d, *f);
    return f.has_value();
  }

  void new_messages() {
    for (size_t s = 0; s < users_.size(); ++s)
      for (long i = 0; i < sends_; ++i) {
        Message m;
        m.cid = "s" + std::to_string(messages_.size());
        m.sender = s;
        m.group = chance(40);
        m.peer = (s + pick<size_t>(1, users_.size() - 1)) % users_.size();
        m.device = pick<size_t>(0, users_[s].devices.size() - 1);
        m.cseq = ++users_[s].devices[m.device].cseqs_given;
        by_cid_[m.cid] = messages_.size();
        messages_.push_back(m);
      }
  }

  // Sends (or resends) every message not acknowledged yet, each from its device with its cseq;
  // some connections are cut mid-frame on the way and reopened.
  void send_unacknowledged(imtest::ServerProcess& server, bool cut) {
    for (auto& m : messages_) {
      if (m.ack) continue;
      auto& u = users_[m.sender];
      auto& d = u.devices[m.device];
      if (cut && chance(2)) {
        d.conn->send_wire_raw(imtest::part_of_wire_frame(d.transport, send_frame(m, group_, users_), rng_));
        ++mid_frame_cuts_;
        d.conn->abort();
        drain(u, d, 0ms);
        connect(server, u, d);
        continue;  // resent next time round
      }
      d.conn->send(send_frame(m, group_, users_));
    }
  }

  void change_membership(imtest::ServerProcess& server) {
    if (passive_.size() < 2) return;
    // The last passive member leaves or comes back; the first stays, to be checked.
    auto& who = passive_.back();
    auto path = "/api/groups/" + std::to_string(group_);
    auto& owner = users_[0].account;
    if (member_removed_) imtest::api(server.endpoint, "POST", path + "/members", owner, json{{"users", {who.user}}});
    else imtest::api(server.endpoint, "DELETE", path + "/members/" + std::to_string(who.user), owner);
    member_removed_ = !member_removed_;
  }

  void one_round(long round) {
    imtest::ServerProcess server(dir_.path(), args(true));
    server_ = &server;
    connect_all(server);
    new_messages();
    size_t unacked = 0;
    for (auto& m : messages_) unacked += m.ack ? 0 : 1;
    // The kill comes after a random number of this round's send_acks, so always mid-stream.
    size_t kill_at = unacked > 2 ? pick<size_t>(1, unacked - 1) : 1;
    acks_this_round_ = 0;
    send_unacknowledged(server, true);
    change_membership(server);
    auto last_progress = std::chrono::steady_clock::now();
    while (acks_this_round_ < kill_at) {
      if (poll_all()) last_progress = std::chrono::steady_clock::now();
      else if (std::chrono::steady_clock::now() - last_progress > 5s) break;  // stuck: kill anyway
    }
    server_ = nullptr;
    kill(server.pid(), SIGKILL);
    server.stop(SIGKILL);
    // What arrived before the kill still counts; then the connections are gone.
    for (auto& u : users_)
      for (auto& d : u.devices) {
        drain(u, d, 0ms);
        d.conn.reset();
        d.cursor_this_run.reset();
        // In memory next_cseq counts sends applied but not yet stored, which a kill may lose:
        // across it only the acknowledged cseqs bound it (PROTOCOL.md section 11).
        d.next_cseq = 0;
      }
    ++rounds_done_;
    (void)round;
  }

  void final_round() {
    imtest::ServerProcess server(dir_.path(), args(false));
    server_ = &server;
    connect_all(server);
    // Resend until every message is acknowledged.
    auto deadline = std::chrono::steady_clock::now() + 120s;
    for (;;) {
      size_t unacked = 0;
      for (auto& m : messages_) unacked += m.ack ? 0 : 1;
      if (unacked == 0 || std::chrono::steady_clock::now() > deadline) break;
      send_unacknowledged(server, false);
      auto until = std::chrono::steady_clock::now() + 2s;
      while (std::chrono::steady_clock::now() < until) {
        poll_all();
        size_t left = 0;
        for (auto& m : messages_) left += m.ack ? 0 : 1;
        if (left == 0) break;
      }
    }
    // Every device collects (all at once, each acknowledging) until nothing came for 3 s.
    for (auto quiet_since = std::chrono::steady_clock::now(); std::chrono::steady_clock::now() - quiet_since < 3s;)
      if (poll_all()) quiet_since = std::chrono::steady_clock::now();
    server_ = nullptr;
    // A passive member that was never removed reads its whole inbox on a fresh device.
    if (!passive_.empty()) {
      auto conn = imclient::connect_authed(server.endpoint, passive_.front().token, "late", nullptr,
                                           imclient::Transport::websocket, imclient::Encoding::json, 0);
      User p;
      p.account = passive_.front();
      p.devices.push_back(named("late"));
      p.devices.back().conn = std::move(conn);
      drain(p, p.devices.back(), 3s);
      passive_reader_ = std::move(p);
    }
    server.stop(SIGTERM);
  }

  // Counts, for one device, what it should have had against what it got.
  void check_device(const Device& d, const std::set<std::pair<std::string, uint64_t>>& expected) {
    std::map<std::pair<std::string, uint64_t>, int> seen;
    std::map<std::string, uint64_t> last_seq;
    for (const auto& e : d.events) {
      if (e.value("type", "") != "msg") continue;
      std::pair<std::string, uint64_t> key{e["conv"].get<std::string>(), e["seq"].get<uint64_t>()};
      if (++seen[key] > 1) ++duplicated_;
      auto& last = last_seq[key.first];
      if (key.second <= last) ++out_of_order_;
      last = std::max(last, key.second);
      if (!expected.count(key)) ++unexpected_;
    }
    for (const auto& key : expected)
      if (!seen.count(key)) ++lost_;
    gaps_ += d.gaps;
  }

  void check() {
    size_t acknowledged = 0;
    std::map<std::string, std::set<uint64_t>> seqs_by_conv;
    std::vector<std::set<std::pair<std::string, uint64_t>>> expected(users_.size());
    std::set<std::pair<std::string, uint64_t>> group_messages;
    for (const auto& m : messages_) {
      if (!m.ack) continue;
      ++acknowledged;
      if (!seqs_by_conv[m.ack->first].insert(m.ack->second).second) ++stored_twice_;
      if (m.group) {
        group_messages.insert(*m.ack);
        for (auto& e : expected) e.insert(*m.ack);
      } else {
        expected[m.sender].insert(*m.ack);
        expected[m.peer].insert(*m.ack);
      }
    }
    // seq gapless per conversation: every stored message was acknowledged in the end.
    for (const auto& [conv, seqs] : seqs_by_conv)
      if (!seqs.empty() && *seqs.rbegin() != seqs.size()) seq_gaps_ += *seqs.rbegin() - seqs.size();
    for (size_t i = 0; i < users_.size(); ++i) {
      for (const auto& d : users_[i].devices) check_device(d, expected[i]);
      // The devices of a user: the same event under each useq both processed.
      const auto& a = users_[i].devices[0].events;
      const auto& b = users_[i].devices[1].events;
      std::map<uint64_t, json> by_useq;
      for (const auto& e : a) by_useq[e["useq"].get<uint64_t>()] = e;
      for (const auto& e : b) {
        auto it = by_useq.find(e["useq"].get<uint64_t>());
        if (it == by_useq.end()) continue;
        auto x = it->second, y = e;
        x.erase("cid");  // identical anyway; kept apart from what a device may not see twice
        y.erase("cid");
        if (x != y) ++device_mismatches_;
      }
    }
    if (passive_reader_) check_device(passive_reader_->devices.back(), group_messages);

    size_t unacked = messages_.size() - acknowledged;
    std::cout << "soak: rounds " << rounds_done_ << ", acknowledged " << acknowledged << ", lost " << lost_
              << ", duplicated " << duplicated_ << ", out of order " << out_of_order_ << std::endl;
    MESSAGE("pushes " << pushes_ << ", mid-frame cuts " << mid_frame_cuts_ << ", reconnects " << reconnects_ << ", useq gaps " << gaps_
                      << ", seq gaps " << seq_gaps_ << ", stored twice " << stored_twice_ << ", unexpected "
                      << unexpected_ << ", device mismatches " << device_mismatches_ << ", changed answers "
                      << changed_answers_ << ", never acknowledged " << unacked << ", cursors checked "
                      << cursors_checked_ << ", moved back " << cursor_moved_back_ << ", next_cseq moved back " << cseq_moved_back_);
    CHECK(unacked == 0);
    CHECK(lost_ == 0);
    CHECK(duplicated_ == 0);
    CHECK(out_of_order_ == 0);
    CHECK(gaps_ == 0);
    CHECK(seq_gaps_ == 0);
    CHECK(stored_twice_ == 0);
    CHECK(unexpected_ == 0);
    CHECK(device_mismatches_ == 0);
    CHECK(changed_answers_ == 0);
    CHECK(cursor_moved_back_ == 0);
    CHECK(cseq_moved_back_ == 0);
  }

  std::mt19937 rng_;
  imtest::TempDir dir_;
  long rounds_ = 0, group_size_ = 0, sends_ = 0;
  std::vector<User> users_;
  std::vector<imclient::Account> passive_;
  std::optional<User> passive_reader_;
  bool member_removed_ = false;
  uint64_t group_ = 0;
  std::vector<Message> messages_;
  std::map<std::string, size_t> by_cid_;
  size_t turn_ = 0, reconnects_ = 0;
  imtest::ServerProcess* server_ = nullptr;  // the running server, while a round polls
  size_t acks_this_round_ = 0, rounds_done_ = 0, pushes_ = 0, mid_frame_cuts_ = 0;
  size_t lost_ = 0, duplicated_ = 0, out_of_order_ = 0, gaps_ = 0, seq_gaps_ = 0, stored_twice_ = 0,
         unexpected_ = 0, device_mismatches_ = 0, changed_answers_ = 0, cursors_checked_ = 0, cursor_moved_back_ = 0,
         cseq_moved_back_ = 0;
};

}  // namespace

TEST_CASE("soak: kill -9 under load, every acknowledged message on every device exactly once, in order") {
  uint32_t seed = std::random_device{}();
  if (const char* given = std::getenv("IMTEST_SEED")) seed = static_cast<uint32_t>(std::stoul(given));
  std::cout << "seed " << seed << " (replay with IMTEST_SEED=" << seed << ")" << std::endl;
  Soak(seed).run();
}
