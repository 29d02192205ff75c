#include <doctest/doctest.h>

#include "protocol/requests.hpp"

using nlohmann::json;

TEST_CASE("parse_auth") {
  CHECK(im::parse_auth(json::parse(R"({"type":"auth","token":"t","device":"d"})")));
  auto with_since = im::parse_auth(json::parse(R"({"type":"auth","token":"t","device":"d","since":5})"));
  REQUIRE(with_since);
  CHECK(*with_since.value->since == 5);
  CHECK_FALSE(im::parse_auth(json::parse(R"({"type":"auth","device":"d"})")));
  CHECK_FALSE(im::parse_auth(json::parse(R"({"type":"auth","token":7,"device":"d"})")));
  CHECK_FALSE(im::parse_auth(json::parse(R"({"type":"auth","token":"t","device":""})")));
  CHECK_FALSE(im::parse_auth(json{{"type", "auth"}, {"token", "t"}, {"device", std::string(65, 'd')}}));
  CHECK(im::parse_auth(json{{"type", "auth"}, {"token", "t"}, {"device", std::string(64, 'd')}}));
  CHECK_FALSE(im::parse_auth(json::parse(R"({"type":"auth","token":"t","device":"d","since":-1})")));
  CHECK_FALSE(im::parse_auth(json::parse(R"({"type":"auth","token":"t","device":"d","since":"3"})")));
}

TEST_CASE("parse_send validates every field") {
  auto ok = im::parse_send(json::parse(R"({"type":"send","cid":"c1","to":{"user":2},"body":{"text":"hi"},"cseq":1})"), 16384);
  REQUIRE(ok);
  CHECK(ok.value->cid == "c1");
  CHECK_FALSE(ok.value->to.is_group);
  CHECK(ok.value->to.id == 2);
  CHECK(ok.value->body_json == R"({"text":"hi"})");
  CHECK(*ok.value->cseq == 1);

  auto group = im::parse_send(json::parse(R"({"type":"send","cid":"c1","to":{"group":9},"body":{}})"), 16384);
  REQUIRE(group);
  CHECK(group.value->to.is_group);

  const char* bad[] = {
      R"({"type":"send","to":{"user":2},"body":{}})",
      R"({"type":"send","cid":"","to":{"user":2},"body":{}})",
      R"({"type":"send","cid":5,"to":{"user":2},"body":{}})",
      R"({"type":"send","cid":"c","body":{}})",
      R"({"type":"send","cid":"c","to":{},"body":{}})",
      R"({"type":"send","cid":"c","to":{"user":2,"group":3},"body":{}})",
      R"({"type":"send","cid":"c","to":{"user":0},"body":{}})",
      R"({"type":"send","cid":"c","to":{"user":-2},"body":{}})",
      R"({"type":"send","cid":"c","to":{"user":"2"},"body":{}})",
      R"({"type":"send","cid":"c","to":{"user":2}})",
      R"({"type":"send","cid":"c","to":{"user":2},"body":"text"})",
      R"({"type":"send","cid":"c","to":{"user":2},"body":{},"cseq":0})",
      R"({"type":"send","cid":"c","to":{"user":2},"body":{},"cseq":1.5})",
  };
  for (auto text : bad) {
    CAPTURE(text);
    auto parsed = im::parse_send(json::parse(text), 16384);
    CHECK_FALSE(parsed);
    CHECK(parsed.error == im::Error::bad_request);
  }
  CHECK_FALSE(im::parse_send(json{{"type", "send"}, {"cid", std::string(65, 'c')}, {"to", {{"user", 2}}}, {"body", json::object()}}, 100));
}

TEST_CASE("parse_send enforces max_body_bytes on the serialized body") {
  json frame{{"type", "send"}, {"cid", "c"}, {"to", {{"user", 2}}}, {"body", {{"text", std::string(100, 'x')}}}};
  auto size = frame["body"].dump().size();
  CHECK(im::parse_send(frame, size));
  auto over = im::parse_send(frame, size - 1);
  CHECK_FALSE(over);
  CHECK(over.error == im::Error::too_large);
}

TEST_CASE("conversation ids are canonical") {
  CHECK(im::parse_conv("u:1:2"));
  CHECK(im::parse_conv("u:1:2")->str() == "u:1:2");
  CHECK(im::parse_conv("g:7")->is_group());
  const char* bad[] = {"u:2:1", "u:1:1", "u:01:2", "u:1:", "u::2", "g:", "g:0", "g:-1", "x:1", "u:1:2:3", "g:1a",
                       "u:0:2", "g:99999999999999999999"};
  for (auto text : bad) {
    CAPTURE(text);
    CHECK_FALSE(im::parse_conv(text));
  }
  CHECK(im::Conv::direct(9, 3).str() == "u:3:9");
}

TEST_CASE("usernames and passwords") {
  CHECK(im::valid_username("abc"));
  CHECK(im::valid_username("A.b-c_9"));
  CHECK_FALSE(im::valid_username("ab"));
  CHECK_FALSE(im::valid_username(std::string(33, 'a')));
  CHECK(im::valid_username(std::string(32, 'a')));
  CHECK_FALSE(im::valid_username("a b"));
  CHECK_FALSE(im::valid_username("é12"));
  CHECK(im::valid_password("12345678"));
  CHECK_FALSE(im::valid_password("1234567"));
  CHECK(im::valid_password(std::string(128, 'p')));
  CHECK_FALSE(im::valid_password(std::string(129, 'p')));
}

TEST_CASE("other requests") {
  CHECK(im::parse_ack(json::parse(R"({"type":"ack","useq":3})")).value->useq == 3);
  CHECK_FALSE(im::parse_ack(json::parse(R"({"type":"ack"})")));
  CHECK(im::parse_read(json::parse(R"({"type":"read","conv":"u:1:2","seq":4})")));
  CHECK_FALSE(im::parse_read(json::parse(R"({"type":"read","conv":"u:2:1","seq":4})")));
  CHECK(im::parse_recall(json::parse(R"({"type":"recall","conv":"g:1","seq":4})")));
  CHECK_FALSE(im::parse_recall(json::parse(R"({"type":"recall","conv":"g:1","seq":0})")));
  CHECK(im::parse_sync(json::parse(R"({"type":"sync","since":0})")));
  CHECK_FALSE(im::parse_sync(json::parse(R"({"type":"sync","since":"0"})")));
  CHECK(im::parse_typing(json::parse(R"({"type":"typing","to":{"group":3}})")));
  CHECK(im::request_type("send") == im::RequestType::send);
  CHECK(im::request_type("bogus") == im::RequestType::unknown);
  CHECK(im::request_rid(json::parse(R"({"rid":"abc"})")) == std::optional<std::string>("abc"));
  CHECK_FALSE(im::request_rid(json{{"rid", std::string(65, 'r')}}));
  CHECK_FALSE(im::request_rid(json{{"rid", 5}}));
}
