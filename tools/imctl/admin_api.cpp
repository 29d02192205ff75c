#include "admin_api.hpp"

#include "client/http.hpp"

namespace imctl {

imclient::Endpoint parse_server(const std::string& server) {
  std::string rest = server;
  bool tls = false;
  if (rest.rfind("https://", 0) == 0) {
    tls = true;
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  try {
    return imclient::parse_endpoint(rest, tls);
  } catch (const std::exception& e) {
    throw Failure(kUsage, e.what());
  }
}

nlohmann::json AdminApi::get(const std::string& target) const { return call("GET", target, ""); }

nlohmann::json AdminApi::post(const std::string& target, const nlohmann::json& body) const {
  return call("POST", target, body.dump());
}

nlohmann::json AdminApi::call(const std::string& method, const std::string& target, const std::string& body) const {
  imclient::HttpResponse res;
  try {
    res = imclient::http(endpoint_, method, target, body, token_);
  } catch (const std::exception& e) {
    throw Failure(kUnreachable, std::string("cannot reach the server: ") + e.what());
  }
  auto answer = res.json();
  if (res.status >= 200 && res.status < 300) return answer;
  std::string code, message;
  if (answer.is_object() && answer.contains("error") && answer["error"].is_object()) {
    code = answer["error"].value("code", "");
    message = answer["error"].value("message", "");
  }
  std::string what = "HTTP " + std::to_string(res.status) + (code.empty() ? "" : " " + code) +
                     (message.empty() ? "" : ": " + message);
  if (res.status == 401) throw Failure(kUnreachable, what + " (give --token or set IMSERVER_ADMIN_TOKEN)");
  if (res.status == 403) throw Failure(kUnreachable, what);
  // Every /admin route answers 404 "no such route" while the server has no admin token.
  if (res.status == 404 && message == "no such route")
    throw Failure(kUnreachable, what + " (is the admin API on? start imserver with --admin-token)");
  throw Failure(kServerError, what);
}

}  // namespace imctl
