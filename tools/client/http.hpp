// One-shot HTTP/1.1 requests against the server's REST API.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "client/endpoint.hpp"

namespace imclient {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;

  // The body parsed as JSON; a null json when the body is empty or not valid JSON.
  nlohmann::json json() const;
};

// Sends one request on a fresh connection (Connection: close) and reads the whole answer.
// A non-empty `token` adds "Authorization: Bearer <token>". `content_type` is sent with a non-empty
// body, and with POST and PUT always. `timeout` bounds the whole exchange.
// Any status is a valid answer; throws std::runtime_error only on connect/IO failure or timeout.
// If the server answers before it has read the whole body (413 on an upload) and drops the rest,
// that answer is still returned.
HttpResponse http(const Endpoint& endpoint, const std::string& method, const std::string& target,
                  const std::string& body = "", const std::string& token = "",
                  const std::string& content_type = "application/json",
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace imclient
