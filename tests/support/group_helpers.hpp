#pragma once
// Helpers of the group, read, history and recall tests: REST calls with a token, group creation,
// group sends, and reading a connection's inbox events with acknowledgement.

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/test_server.hpp"

namespace imtest {

using nlohmann::json;

struct Api {
  int status = 0;
  json body;
};

// One REST call as `who`; `body` null sends none.
inline Api api(const imclient::Endpoint& endpoint, const std::string& method, const std::string& target,
               const imclient::Account& who, const json& body = nullptr) {
  auto response = imclient::http(endpoint, method, target, body.is_null() ? "" : body.dump(), who.token);
  return Api{response.status, response.json()};
}

// POST /api/groups, expecting 201; returns the group object.
inline json create_group(const imclient::Endpoint& endpoint, const imclient::Account& owner,
                         const std::vector<uint64_t>& members, const std::string& name = "team") {
  auto r = api(endpoint, "POST", "/api/groups", owner, json{{"name", name}, {"members", members}});
  if (r.status != 201) throw std::runtime_error("create group: " + std::to_string(r.status) + " " + r.body.dump());
  return r.body;
}

inline json group_message(uint64_t group, const std::string& text, const std::string& cid = imclient::fresh_cid()) {
  return {{"type", "send"}, {"cid", cid}, {"to", {{"group", group}}}, {"body", {{"text", text}}}};
}

inline std::string group_conv(uint64_t group) { return "g:" + std::to_string(group); }

// The frames of one connection, with inbox events acknowledged and deduplicated by useq as a
// client does (PROTOCOL.md section 6).
class Reader {
 public:
  explicit Reader(imclient::Connection& conn) : conn_(&conn) {}

  // The next frame that matches, acknowledging inbox events on the way; frames passed over are
  // kept in passed(). Fails the test (and returns null) on timeout.
  json next_matching(const std::function<bool(const json&)>& match,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      auto frame = left.count() > 0 ? conn_->next(left) : std::nullopt;
      if (!frame) {
        FAIL_CHECK("no matching frame in time; passed over: " << json(passed_).dump().substr(0, 2000));
        return nullptr;
      }
      if (!accept(*frame)) continue;
      if (match(*frame)) return *frame;
      passed_.push_back(*frame);
    }
  }
  json next(const std::string& type, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return next_matching([&](const json& f) { return f.value("type", "") == type; }, timeout);
  }
  // Every frame that arrives within `quiet` of the previous one (inbox events acknowledged).
  std::vector<json> drain(std::chrono::milliseconds quiet) {
    std::vector<json> out;
    while (auto frame = conn_->next(quiet))
      if (accept(*frame)) out.push_back(*frame);
    return out;
  }
  std::vector<json>& passed() { return passed_; }
  size_t duplicates() const { return duplicates_; }

 private:
  // Acknowledges an inbox event and drops it if its useq was seen already.
  bool accept(const json& frame) {
    if (!frame.contains("useq") || frame.value("type", "") == "auth_ok") return true;
    auto useq = frame["useq"].get<uint64_t>();
    conn_->send({{"type", "ack"}, {"useq", useq}});
    if (useq <= last_useq_) {
      ++duplicates_;
      return false;
    }
    last_useq_ = useq;
    return true;
  }

  imclient::Connection* conn_;
  uint64_t last_useq_ = 0;
  size_t duplicates_ = 0;
  std::vector<json> passed_;
};

// A user with one connected device and its reader.
struct Member {
  imclient::Account account;
  std::unique_ptr<imclient::Connection> conn;
  std::unique_ptr<Reader> reader;
};

inline Member connect_member(const imclient::Endpoint& endpoint, imclient::Account account,
                             const std::string& device = "dev") {
  Member m;
  m.account = std::move(account);
  m.conn = imclient::connect_authed(endpoint, m.account.token, device);
  m.reader = std::make_unique<Reader>(*m.conn);
  return m;
}

}  // namespace imtest
