// imctl's view of the admin API (PROTOCOL.md section 8): one call per route, and the mapping of
// every failure to imctl's exit codes.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "client/endpoint.hpp"

namespace imctl {

// Exit codes, documented in --help and docs/OPERATIONS.md.
enum ExitCode : int {
  kOk = 0,
  kServerError = 1,   // the server answered with an error (no such user, bad request, 5xx)
  kUsage = 2,         // bad command line
  kUnreachable = 3,   // cannot connect, or the admin API refused us (401/403, or it is off)
};

// A failure that ends imctl with `code`.
struct Failure : std::runtime_error {
  Failure(ExitCode code, const std::string& message) : std::runtime_error(message), code(code) {}
  ExitCode code;
};

// "http://H:P", "https://H:P" (TLS), "H:P", "H", ":P".
imclient::Endpoint parse_server(const std::string& server);

class AdminApi {
 public:
  AdminApi(imclient::Endpoint endpoint, std::string token) : endpoint_(std::move(endpoint)), token_(std::move(token)) {}

  // GET/POST `target` with the admin token; returns the JSON answer of a 2xx, throws Failure
  // otherwise.
  nlohmann::json get(const std::string& target) const;
  nlohmann::json post(const std::string& target, const nlohmann::json& body) const;

 private:
  nlohmann::json call(const std::string& method, const std::string& target, const std::string& body) const;
  imclient::Endpoint endpoint_;
  std::string token_;
};

}  // namespace imctl
