// The client library in one include: HTTP requests, frame connections, and helpers for the common
// steps of a test (register, log in, connect and authenticate). Helpers throw std::runtime_error
// with the request and the server's answer when the answer is not the expected one.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "client/connection.hpp"
#include "client/endpoint.hpp"
#include "client/http.hpp"

namespace imclient {

struct Account {
  uint64_t user = 0;
  std::string username, password, token;
};

// Returns the parsed body when `response` has status `status`; otherwise throws naming `what`, the
// status and the body.
nlohmann::json require_status(const HttpResponse& response, int status, const std::string& what);

// POST /api/register (expects 201); returns the new user id.
uint64_t register_user(const Endpoint& endpoint, const std::string& username,
                       const std::string& password);
// POST /api/login (expects 200).
Account login(const Endpoint& endpoint, const std::string& username, const std::string& password);
// POST /api/register, then POST /api/login.
Account register_and_login(const Endpoint& endpoint, const std::string& username,
                           const std::string& password);

// Opens a connection and authenticates it: on WebSocket expects auth_required first (raw TCP gets
// none before the client speaks), sends {"type":"auth","token","device","since"?} and expects
// auth_ok, which is stored in *auth_ok if given. Frames passed over on the way are discarded; the
// inbox replay that follows auth_ok is left queued.
std::unique_ptr<Connection> connect_authed(const Endpoint& endpoint, const std::string& token,
                                           const std::string& device,
                                           nlohmann::json* auth_ok = nullptr,
                                           Transport transport = Transport::websocket,
                                           Encoding encoding = Encoding::json,
                                           std::optional<uint64_t> since = std::nullopt);

// The one-to-one conversation id of two users: "u:min:max".
std::string conv_id_user(uint64_t a, uint64_t b);

// A cid unique across threads, processes and runs: "c<12 random hex>-<counter>".
std::string fresh_cid();
// A valid, unique username (at most 32 characters of [A-Za-z0-9_.-]) starting with `prefix`
// (shortened if needed): "<prefix>_<8 random hex><counter>".
std::string unique_username(const std::string& prefix = "user");

// {"type":"send","cid":cid,"to":{"user":to},"body":{"text":text}}
nlohmann::json text_message(uint64_t to, const std::string& text,
                            const std::string& cid = fresh_cid());

}  // namespace imclient
