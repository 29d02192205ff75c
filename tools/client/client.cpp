#include "client/client.hpp"

#include <algorithm>
#include <atomic>
#include <random>

#include "client/io.hpp"

namespace imclient {

namespace {

using detail::fail;

std::string random_hex(std::size_t digits) {
  static const char hex[] = "0123456789abcdef";
  std::random_device device;
  std::mt19937_64 generator((static_cast<uint64_t>(device()) << 32) ^ device());
  std::string text;
  for (std::size_t i = 0; i < digits; ++i) text += hex[generator() & 15];
  return text;
}

// Random once per process, so that ids differ between processes and runs.
const std::string& process_tag() {
  static const std::string tag = random_hex(12);
  return tag;
}

uint64_t next_counter() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

std::string truncated(const std::string& text, std::size_t max_chars = 500) {
  return text.size() <= max_chars ? text : text.substr(0, max_chars) + "...";
}

uint64_t user_field(const nlohmann::json& body, const std::string& what) {
  if (!body.is_object() || !body.contains("user") || !body["user"].is_number_unsigned())
    fail(what + ": answer has no numeric 'user': " + truncated(body.dump()));
  return body["user"].get<uint64_t>();
}

}  // namespace

nlohmann::json require_status(const HttpResponse& response, int status, const std::string& what) {
  if (response.status != status)
    fail(what + ": expected HTTP " + std::to_string(status) + ", got " +
         std::to_string(response.status) + " " + truncated(response.body));
  return response.json();
}

uint64_t register_user(const Endpoint& endpoint, const std::string& username,
                       const std::string& password) {
  const std::string what = "register '" + username + "'";
  const nlohmann::json request = {{"username", username}, {"password", password}};
  return user_field(
      require_status(http(endpoint, "POST", "/api/register", request.dump()), 201, what), what);
}

Account login(const Endpoint& endpoint, const std::string& username, const std::string& password) {
  const std::string what = "login '" + username + "'";
  const nlohmann::json request = {{"username", username}, {"password", password}};
  const nlohmann::json body =
      require_status(http(endpoint, "POST", "/api/login", request.dump()), 200, what);
  Account account;
  account.user = user_field(body, what);
  account.username = username;
  account.password = password;
  if (!body.contains("token") || !body["token"].is_string())
    fail(what + ": answer has no string 'token': " + truncated(body.dump()));
  account.token = body["token"].get<std::string>();
  return account;
}

Account register_and_login(const Endpoint& endpoint, const std::string& username,
                           const std::string& password) {
  register_user(endpoint, username, password);
  return login(endpoint, username, password);
}

std::unique_ptr<Connection> connect_authed(const Endpoint& endpoint, const std::string& token,
                                           const std::string& device, nlohmann::json* auth_ok,
                                           Transport transport, Encoding encoding,
                                           std::optional<uint64_t> since) {
  auto connection = Connection::open(endpoint, transport, encoding);
  if (transport == Transport::websocket) connection->expect("auth_required");
  nlohmann::json auth = {{"type", "auth"}, {"token", token}, {"device", device}};
  if (since) auth["since"] = *since;
  connection->send(auth);
  nlohmann::json ok = connection->expect("auth_ok");
  connection->skipped();
  if (auth_ok) *auth_ok = std::move(ok);
  return connection;
}

std::string conv_id_user(uint64_t a, uint64_t b) {
  return "u:" + std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
}

std::string fresh_cid() { return "c" + process_tag() + "-" + std::to_string(next_counter()); }

std::string unique_username(const std::string& prefix) {
  const std::string suffix = "_" + process_tag().substr(0, 8) + std::to_string(next_counter());
  constexpr std::size_t max_length = 32;
  const std::size_t room = suffix.size() < max_length ? max_length - suffix.size() : 0;
  return prefix.substr(0, room) + suffix;
}

nlohmann::json text_message(uint64_t to, const std::string& text, const std::string& cid) {
  return {{"type", "send"}, {"cid", cid}, {"to", {{"user", to}}}, {"body", {{"text", text}}}};
}

}  // namespace imclient
