// Helpers shared by the operations tests (admin, imctl, TLS, MessagePack, limits).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "support/test_server.hpp"

namespace opstest {

inline const std::string kAdminToken = "admin-secret-token";

// A server with the admin API on (token kAdminToken, answering 127.0.0.1).
inline std::function<void(im::ServerOptions&)> with_admin(std::function<void(im::ServerOptions&)> more = {}) {
  return [more](im::ServerOptions& o) {
    o.admin_token = kAdminToken;
    if (more) more(o);
  };
}

inline imclient::HttpResponse admin_get(const imclient::Endpoint& e, const std::string& target,
                                        const std::string& token = kAdminToken) {
  return imclient::http(e, "GET", target, "", token);
}

inline imclient::HttpResponse admin_post(const imclient::Endpoint& e, const std::string& target,
                                         const nlohmann::json& body, const std::string& token = kAdminToken) {
  return imclient::http(e, "POST", target, body.dump(), token);
}

// The parsed body of a 200 answer to GET `target` (fails the test otherwise).
inline nlohmann::json admin_json(const imclient::Endpoint& e, const std::string& target) {
  return imclient::require_status(admin_get(e, target), 200, "GET " + target);
}

// The value of a counter or gauge in GET /metrics (fails the test when it is missing).
inline uint64_t metric(const imclient::Endpoint& endpoint, const std::string& name) {
  auto text = imclient::http(endpoint, "GET", "/metrics").body;
  auto pos = text.find("\n" + name + " ");
  REQUIRE_MESSAGE(pos != std::string::npos, name);
  return std::stoull(text.substr(pos + name.size() + 2));
}

// Bounded polling of an observable condition: true as soon as `condition()` holds, false after
// `timeout`.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// The error code of an error answer: {"error":{"code":...}}.
inline std::string error_code(const imclient::HttpResponse& res) {
  auto j = res.json();
  return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}

}  // namespace opstest
