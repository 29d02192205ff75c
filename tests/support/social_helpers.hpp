#pragma once
// Helpers shared by the friends/presence/blocks, typing and files tests.

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "client/client.hpp"

namespace imtest {

// PUT or DELETE /api/friends/{peer} as `who`.
inline imclient::HttpResponse friend_call(const imclient::Endpoint& endpoint, const std::string& method,
                                          const imclient::Account& who, uint64_t peer) {
  return imclient::http(endpoint, method, "/api/friends/" + std::to_string(peer), "", who.token);
}

// a asks b, b accepts: friends.
inline void befriend(const imclient::Endpoint& endpoint, const imclient::Account& a, const imclient::Account& b) {
  REQUIRE(friend_call(endpoint, "PUT", a, b.user).json() == nlohmann::json{{"state", "requested"}});
  REQUIRE(friend_call(endpoint, "PUT", b, a.user).json() == nlohmann::json{{"state", "friends"}});
}

// Sends a text message "marker" from `from` to `to_user` and waits for it on `to`, acknowledging
// it. Returns the frames `to` received before it. Anything the sender's user actor forwarded to
// `to_user` before the marker (presence, typing) travelled the same ordered path (sender's user
// actor -> recipient's user actor -> recipient's connection), so it is among these frames: a type
// missing here was not sent.
inline std::vector<nlohmann::json> frames_before_marker(imclient::Connection& from, imclient::Connection& to,
                                                        uint64_t to_user) {
  from.send(imclient::text_message(to_user, "marker"));
  from.expect("send_ack");
  auto msg = to.expect("msg");
  CHECK(msg["body"]["text"] == "marker");
  to.send({{"type", "ack"}, {"useq", msg["useq"]}});
  return to.skipped();
}

inline size_t count_type(const std::vector<nlohmann::json>& frames, const std::string& type) {
  size_t n = 0;
  for (const auto& f : frames)
    if (f.value("type", "") == type) ++n;
  return n;
}

}  // namespace imtest
