// store/inbox: `msg` events stored by reference to their message (append_inbox_msg) read back as
// the same text a live push carries, over a real LevelDB.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "store/conversations.hpp"
#include "store/inbox.hpp"
#include "store/keys.hpp"
#include "support/temp_store.hpp"

using namespace im;
using imtest::TempStore;
using json = nlohmann::json;

namespace {

const Conv kConv = Conv::direct(1, 2);
constexpr int64_t kTs = 1'700'000'000'123;
const std::string kBody = R"({"text":"héllo \"quoted\""})";

// Stores message `seq` of kConv from user 1 and appends it to the inboxes of 1 (with `cid`) and
// 2, as the send path does. Returns the texts a live push would carry: {sender's, recipient's}.
std::pair<std::string, std::string> send(Store& store, uint64_t seq, const std::string& cid) {
  std::pair<std::string, std::string> texts;
  REQUIRE(store.commit_and_wait([&](Txn& txn) {
    txn.put(keys::message(kConv, seq), stored_message_json(StoredMessage{1, kBody, kTs, false}));
    auto members = msg_event_members(kConv, seq, 1, kBody, kTs);
    append_inbox_msg(txn, 1, MsgRef{kConv, seq, kTs, cid}, members + ",\"cid\":" + json(cid).dump(), 0,
                     &texts.first);
    append_inbox_msg(txn, 2, MsgRef{kConv, seq, kTs, {}}, members, 0, &texts.second);
  }));
  return texts;
}

std::string stored_value(const Store& store, UserId user, uint64_t useq) {
  std::string value;
  REQUIRE(store.get(keys::inbox(user, useq), &value));
  return value;
}

}  // namespace

TEST_CASE("a msg event stored by reference reads back as the text its live push carried") {
  TempStore t;
  auto [own, received] = send(*t.store, 1, "c-1 \"odd\" cid");

  auto mine = read_inbox(*t.store, 1, 0, 10);
  auto theirs = read_inbox(*t.store, 2, 0, 10);
  REQUIRE(mine.size() == 1);
  REQUIRE(theirs.size() == 1);
  CHECK(mine[0].text == own);
  CHECK(theirs[0].text == received);

  auto event = json::parse(mine[0].text);
  CHECK(event["type"] == "msg");
  CHECK(event["useq"] == 1);
  CHECK(event["conv"] == kConv.str());
  CHECK(event["seq"] == 1);
  CHECK(event["from"] == 1);
  CHECK(event["body"] == json::parse(kBody));
  CHECK(event["ts"] == kTs);
  CHECK(event["cid"] == "c-1 \"odd\" cid");
  CHECK_FALSE(json::parse(theirs[0].text).contains("cid"));

  // The inbox holds a reference, smaller than the text, and not the body.
  auto value = stored_value(*t.store, 2, 1);
  CHECK(value[0] == kMsgRefTag);
  CHECK(value.size() < received.size());
  CHECK(value.find("héllo") == std::string::npos);
}

TEST_CASE("a referenced message recalled meanwhile reads back without its body") {
  TempStore t;
  send(*t.store, 1, "c1");
  REQUIRE(t.store->commit_and_wait([&](Txn& txn) {
    txn.put(keys::message(kConv, 1), stored_message_json(StoredMessage{1, "{}", kTs, true}));
  }));
  auto events = read_inbox(*t.store, 2, 0, 10);
  REQUIRE(events.size() == 1);
  auto event = json::parse(events[0].text);
  CHECK(event["body"] == json::object());
  CHECK(event["recalled"] == true);
  CHECK(event["ts"] == kTs);
}

TEST_CASE("text events and references mix in one inbox, in useq order, within the limit") {
  TempStore t;
  REQUIRE(t.store->commit_and_wait([](Txn& txn) {
    // A `msg` event as data directories before references hold it: its whole text.
    append_inbox(txn, 2, "msg", msg_event_members(kConv, 9, 1, R"({"text":"old"})", 5), 0, nullptr);
  }));
  send(*t.store, 1, "c1");
  REQUIRE(t.store->commit_and_wait([](Txn& txn) {
    append_inbox(txn, 2, "read", R"("conv":"u:1:2","reader":1,"seq":1)", 0, nullptr);
  }));
  send(*t.store, 2, "c2");

  auto events = read_inbox(*t.store, 2, 0, 10);
  REQUIRE(events.size() == 4);
  std::vector<std::string> types;
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].useq == i + 1);
    auto event = json::parse(events[i].text);
    CHECK(event["useq"] == i + 1);
    types.push_back(event["type"]);
  }
  CHECK(types == std::vector<std::string>{"msg", "msg", "read", "msg"});
  CHECK(json::parse(events[0].text)["body"] == json{{"text", "old"}});
  CHECK(json::parse(events[1].text)["body"] == json::parse(kBody));
  CHECK(json::parse(events[3].text)["seq"] == 2);

  auto page = read_inbox(*t.store, 2, 1, 2);
  REQUIRE(page.size() == 2);
  CHECK(page[0].useq == 2);
  CHECK(page[1].useq == 3);
}

TEST_CASE("a reference whose message is missing is skipped, and the limit is still filled") {
  TempStore t;
  for (uint64_t seq = 1; seq <= 5; ++seq) send(*t.store, seq, "c" + std::to_string(seq));
  REQUIRE(t.store->commit_and_wait([](Txn& txn) {
    txn.del(keys::message(kConv, 1));
    txn.del(keys::message(kConv, 2));
  }));
  auto all = read_inbox(*t.store, 2, 0, 10);
  REQUIRE(all.size() == 3);
  CHECK(all[0].useq == 3);
  CHECK(json::parse(all[0].text)["seq"] == 3);
  // A page of 2 whose first stored events are both unresolvable still returns 2 events: a caller
  // must not take a short page for the end of the inbox.
  auto page = read_inbox(*t.store, 2, 0, 2);
  REQUIRE(page.size() == 2);
  CHECK(page[0].useq == 3);
  CHECK(page[1].useq == 4);
}

TEST_CASE("inbox_event_ts reads both stored forms") {
  TempStore t;
  send(*t.store, 1, "c1");
  REQUIRE(t.store->commit_and_wait([](Txn& txn) {
    append_inbox(txn, 2, "notice", R"("body":{"text":"x"},"ts":42)", 0, nullptr);
    append_inbox(txn, 2, "friend", R"("user":3,"state":"friends")", 0, nullptr);
  }));
  CHECK(inbox_event_ts(stored_value(*t.store, 2, 1)) == kTs);
  CHECK(inbox_event_ts(stored_value(*t.store, 2, 2)) == 42);
  CHECK_FALSE(inbox_event_ts(stored_value(*t.store, 2, 3)).has_value());
  CHECK_FALSE(inbox_event_ts("not json").has_value());
}

TEST_CASE("append_inbox_msg keeps at most max_events, like append_inbox") {
  TempStore t;
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    REQUIRE(t.store->commit_and_wait([&](Txn& txn) {
      txn.put(keys::message(kConv, seq), stored_message_json(StoredMessage{1, kBody, kTs, false}));
      append_inbox_msg(txn, 2, MsgRef{kConv, seq, kTs, {}}, msg_event_members(kConv, seq, 1, kBody, kTs), 4,
                       nullptr);
    }));
  }
  CHECK(inbox_head(*t.store, 2) == 6);
  CHECK(inbox_oldest(*t.store, 2) == 3);
  auto events = read_inbox(*t.store, 2, 0, 10);
  REQUIRE(events.size() == 4);
  CHECK(json::parse(events.back().text)["seq"] == 6);
}

TEST_CASE("stored messages read the same without a JSON parse as with one") {
  // parse_stored_message reads stored_message_json's own layout directly; anything else (older or
  // foreign layouts) goes through the JSON parser. Both must give the same message.
  auto via_json = [](const std::string& value) {
    auto j = json::parse(value);
    StoredMessage m;
    m.from = j["from"].get<UserId>();
    m.ts = j["ts"].get<int64_t>();
    m.recalled = j.value("recalled", false);
    m.body_json = j["body"].dump();
    return m;
  };
  for (const auto& original :
       {StoredMessage{7, R"({"text":"plain"})", kTs, false},
        StoredMessage{7, R"({"text":"a \",\"ts\":5} trap","ts":9})", kTs, false},
        StoredMessage{123456789, R"({"a":{"b":[1,2,{"c":"}"}]},"z":null})", 0, false},
        StoredMessage{7, "{}", kTs, true}, StoredMessage{7, "{}", -3, false}}) {
    auto value = stored_message_json(original);
    auto parsed = parse_stored_message(value);
    REQUIRE(parsed);
    auto expected = via_json(value);
    CHECK(parsed->from == expected.from);
    CHECK(parsed->ts == expected.ts);
    CHECK(parsed->recalled == expected.recalled);
    CHECK(parsed->body_json == expected.body_json);
    CHECK(parsed->body_json == original.body_json);
  }
  // Other layouts (members in another order, spaces) go through the JSON parse; a 20-digit sender
  // (the largest id) reads either way.
  auto reordered = parse_stored_message(R"({"ts":5,"body":{"x":1},"from":3})");
  REQUIRE(reordered);
  CHECK(reordered->from == 3);
  CHECK(reordered->ts == 5);
  CHECK(reordered->body_json == R"({"x":1})");
  auto spaced = parse_stored_message(R"({"from": 3, "body": {"x": 1}, "ts": 5, "recalled": true})");
  REQUIRE(spaced);
  CHECK(spaced->recalled);
  CHECK(spaced->body_json == R"({"x":1})");
  auto big = parse_stored_message(R"({"from":18446744073709551615,"body":{},"ts":5})");
  REQUIRE(big);
  CHECK(big->from == 18446744073709551615ull);
  CHECK_FALSE(parse_stored_message(R"({"from":3,"body":{},"ts":"x"})"));
  CHECK_FALSE(parse_stored_message("not json"));
}

// The inbox head is an implied counter (store/keys.hpp): carried by the newest inbox key, written
// as a key of its own only when that key is deleted. Each case reopens the store, so the head comes
// back from disk and not from the store's memory.
TEST_CASE("the inbox head is carried by the inbox keys, not written with every event") {
  TempStore t;
  for (int i = 0; i < 5; ++i)
    REQUIRE(t.store->commit_and_wait([&](Txn& txn) { append_inbox(txn, 7, "notice", "", 0, nullptr); }));
  std::string ignored;
  CHECK_FALSE(t.store->get(keys::counter_inbox_head(7), &ignored));
  t.reopen();
  CHECK(inbox_head(*t.store, 7) == 5);
  uint64_t next = 0;
  REQUIRE(t.store->commit_and_wait([&](Txn& txn) { next = append_inbox(txn, 7, "notice", "", 0, nullptr); }));
  CHECK(next == 6);
  CHECK(inbox_head(*t.store, 8) == 0);  // a user without an inbox, next to one with
}

TEST_CASE("deleting the newest inbox event records the head, so it survives reopening") {
  TempStore t;
  for (int i = 0; i < 3; ++i)
    REQUIRE(t.store->commit_and_wait([&](Txn& txn) { append_inbox(txn, 7, "notice", "", 0, nullptr); }));
  SUBCASE("an older event deleted: nothing to record") {
    REQUIRE(t.store->commit_and_wait([](Txn& txn) { txn.del(keys::inbox(7, 2)); }));
    std::string ignored;
    CHECK_FALSE(t.store->get(keys::counter_inbox_head(7), &ignored));
    t.reopen();
    CHECK(inbox_head(*t.store, 7) == 3);
  }
  SUBCASE("every event deleted (del)") {
    REQUIRE(t.store->commit_and_wait([](Txn& txn) {
      for (uint64_t useq = 1; useq <= 3; ++useq) txn.del(keys::inbox(7, useq));
    }));
    t.reopen();
    CHECK(inbox_head(*t.store, 7) == 3);
    CHECK(inbox_oldest(*t.store, 7) == 0);
  }
  SUBCASE("the newest deleted after a reopen, when the head is not in memory") {
    t.reopen();
    REQUIRE(t.store->commit_and_wait([](Txn& txn) { txn.del(keys::inbox(7, 3)); }));
    t.reopen();
    CHECK(inbox_head(*t.store, 7) == 3);
  }
  SUBCASE("the newest deleted ahead of the group (del_first)") {
    REQUIRE(t.store->commit_and_wait([](Txn& txn) { txn.del_first(keys::inbox(7, 3)); }));
    t.reopen();
    CHECK(inbox_head(*t.store, 7) == 3);
  }
  SUBCASE("the newest deleted in the write that appends after it") {
    REQUIRE(t.store->commit_and_wait([](Txn& txn) {
      append_inbox(txn, 7, "notice", "", 0, nullptr);  // useq 4
      txn.del(keys::inbox(7, 4));
    }));
    t.reopen();
    CHECK(inbox_head(*t.store, 7) == 4);
  }
  uint64_t next = 0;
  REQUIRE(t.store->commit_and_wait([&](Txn& txn) { next = append_inbox(txn, 7, "notice", "", 0, nullptr); }));
  CHECK(next == inbox_head(*t.store, 7));
  CHECK(next >= 4);
}

TEST_CASE("a stored head counter from an older data directory still counts") {
  TempStore t;
  REQUIRE(t.store->commit_and_wait([](Txn& txn) {
    std::string value;
    keys::put_u64(value, 40);
    txn.put(keys::counter_inbox_head(7), value);  // as every append used to write it
    txn.put(keys::inbox(7, 38), R"({"type":"notice","useq":38})");
  }));
  t.reopen();
  CHECK(inbox_head(*t.store, 7) == 40);
  uint64_t next = 0;
  REQUIRE(t.store->commit_and_wait([&](Txn& txn) { next = append_inbox(txn, 7, "notice", "", 0, nullptr); }));
  CHECK(next == 41);
  t.reopen();
  CHECK(inbox_head(*t.store, 7) == 41);  // the new key is above the old counter
}

TEST_CASE("trimming to max_events never loses the head") {
  TempStore t;
  for (int i = 0; i < 9; ++i)
    REQUIRE(t.store->commit_and_wait([&](Txn& txn) { append_inbox(txn, 7, "notice", "", 2, nullptr); }));
  t.reopen();
  CHECK(inbox_head(*t.store, 7) == 9);
  CHECK(inbox_oldest(*t.store, 7) == 8);
}
