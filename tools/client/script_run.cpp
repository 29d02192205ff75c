// Running imclient scripts: one Runner holds what steps share (tokens, user ids, the connection).
#include <map>
#include <ostream>
#include <thread>

#include "client/client.hpp"
#include "client/fail.hpp"
#include "client/script.hpp"
#include "client/script_steps.hpp"

namespace imclient {

namespace {

using detail::fail;
using nlohmann::json;
using script::Step;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string one_line(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// An HTTP body for printing: its JSON if it is JSON, else its text, cut to a readable size.
json printable_body(const HttpResponse& response) {
  json parsed = response.json();
  if (!parsed.is_null() || response.body.empty()) return parsed;
  constexpr std::size_t max_chars = 1000;
  if (response.body.size() <= max_chars) return response.body;
  return response.body.substr(0, max_chars) + "... (" + std::to_string(response.body.size()) +
         " bytes)";
}

// Numeric arguments, which parse() checked.
uint64_t number(const std::string& digits) { return std::stoull(digits); }

std::optional<uint64_t> number_at(const std::vector<std::string>& args, std::size_t index) {
  if (index >= args.size()) return std::nullopt;
  return number(args[index]);
}

class Runner {
 public:
  Runner(const ScriptSettings& settings, std::ostream& out) : settings_(settings), out_(out) {}

  // Runs one (already checked) step; throws std::exception when it fails.
  void run(const Step& step) {
    const std::string& verb = step.verb;
    const auto& args = step.args;
    if (verb == "register") return register_user(args[0], args[1]);
    if (verb == "login") return login(args[0], args[1]);
    if (verb == "connect") return connect();
    if (verb == "auth") return auth(args[0], number_at(args, 1));
    if (verb == "send") return connection().send(json::parse(expanded(args[0])));
    if (verb == "raw") return connection().send_text_raw(args[0]);
    if (verb == "say") return connection().send(text_message(user_id(args[0]), args[1]));
    if (verb == "ping") return connection().send({{"type", "ping"}});
    if (verb == "expect")
      return expect(args[0], milliseconds(number_at(args, 1).value_or(settings_.timeout.count())));
    if (verb == "wait") return wait(milliseconds(number(args[0])));
    if (verb == "ack") return ack(number_at(args, 0));
    if (verb == "http")
      return http_step(args[0], expanded(args[1]), args.size() > 2 ? expanded(args[2]) : "");
    if (verb == "status") return check_status(number(args[0]));
    if (verb == "closed") return wait_closed(number_at(args, 0));
    if (verb == "close") return close();
    fail("unhandled step '" + verb + "'");  // parse() accepts only the verbs above
  }

  // After the last step: prints what is still queued and closes cleanly.
  void finish() {
    if (connection_) close();
  }

 private:
  // --- steps ---

  void register_user(const std::string& name, const std::string& password) {
    http_step("POST", "/api/register", json{{"username", name}, {"password", password}}.dump());
    users_[name] = user_of(require_status(*last_, 201, "register " + name), "register " + name);
  }

  void login(const std::string& name, const std::string& password) {
    http_step("POST", "/api/login", json{{"username", name}, {"password", password}}.dump());
    const json body = require_status(*last_, 200, "login " + name);
    users_[name] = user_of(body, "login " + name);
    if (!body.contains("token") || !body["token"].is_string())
      fail("login " + name + ": no token in the answer");
    token_ = body["token"].get<std::string>();
  }

  void connect() {
    if (connection_) print_queued();
    connection_.reset();
    close_reported_ = false;
    connection_ = Connection::open(settings_.endpoint, settings_.transport, settings_.encoding,
                                   settings_.timeout);
  }

  void auth(const std::string& device, std::optional<uint64_t> since) {
    json frame = {{"type", "auth"}, {"token", token_}, {"device", device}};
    if (since) frame["since"] = *since;
    connection().send(frame);
    expect("auth_ok", settings_.timeout);
  }

  void expect(const std::string& type, milliseconds limit) {
    try {
      const json frame = connection().expect(type, limit);
      print_frames(connection().skipped());
      print_frame(frame);
    } catch (const std::exception&) {
      print_frames(connection().skipped());
      report_close_once();
      throw;
    }
  }

  void wait(milliseconds duration) {
    const auto deadline = Clock::now() + duration;
    while (connection_) {
      const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
      const auto frame = connection_->next(std::max(left, milliseconds(0)));
      if (frame) {
        print_frame(*frame);
        continue;
      }
      if (!connection_->closed()) return;  // the time is up
      report_close_once();
      break;
    }
    std::this_thread::sleep_until(deadline);
  }

  void ack(std::optional<uint64_t> useq) {
    if (!useq && highest_useq_ == 0)
      fail("nothing to acknowledge: no frame with a useq arrived yet");
    connection().send({{"type", "ack"}, {"useq", useq.value_or(highest_useq_)}});
  }

  void check_status(uint64_t expected) {
    if (static_cast<int64_t>(expected) != last_->status)
      fail("expected HTTP " + std::to_string(expected) + ", got " + std::to_string(last_->status));
  }

  void wait_closed(std::optional<uint64_t> expected) {
    const std::optional<int> code = connection().wait_closed(settings_.timeout);
    print_queued();
    if (!code)
      fail("the connection is still open after " + std::to_string(settings_.timeout.count()) +
           " ms");
    if (expected && static_cast<int64_t>(*expected) != *code)
      fail("closed with code " + std::to_string(*code) + " (\"" + connection_->close_reason() +
           "\"), expected " + std::to_string(*expected));
  }

  void close() {
    print_queued();
    connection().close();
    report_close_once();
    connection_.reset();
  }

  // --- helpers ---

  Connection& connection() {
    if (!connection_) fail("no open connection");  // parse() prevents this
    return *connection_;
  }

  // Sends the request, prints the answer and keeps it in last_.
  void http_step(const std::string& method, const std::string& path, const std::string& body) {
    last_ =
        http(settings_.endpoint, method, path, body, token_, "application/json", settings_.timeout);
    print({{"http",
            {{"method", method},
             {"path", path},
             {"status", last_->status},
             {"body", printable_body(*last_)}}}});
  }

  static uint64_t user_of(const json& body, const std::string& what) {
    if (!body.is_object() || !body.contains("user") || !body["user"].is_number_unsigned())
      fail(what + ": no numeric user in the answer");
    return body["user"].get<uint64_t>();
  }

  uint64_t user_id(const std::string& id_or_name) const {
    if (script::is_number(id_or_name)) return number(id_or_name);
    return users_.at(id_or_name);  // parse() checked that an earlier step named it
  }

  std::string expanded(const std::string& text) const {
    return script::expand(
        text, [this](const std::string& name) { return std::to_string(users_.at(name)); });
  }

  // --- output ---

  void print(const json& line) { out_ << one_line(line) << std::endl; }

  void print_frame(const json& frame) {
    if (frame.is_object() && frame.value("type", json()) != "auth_ok") {
      const auto useq = frame.find("useq");
      if (useq != frame.end() && useq->is_number_unsigned())
        highest_useq_ = std::max(highest_useq_, useq->get<uint64_t>());
    }
    print(frame);
  }

  void print_frames(const std::vector<json>& frames) {
    for (const json& frame : frames) print_frame(frame);
  }

  // Frames already received, without waiting; then the close, if it happened.
  void print_queued() {
    if (!connection_) return;
    while (const auto frame = connection_->next(milliseconds(0))) print_frame(*frame);
    report_close_once();
  }

  void report_close_once() {
    if (!connection_ || close_reported_ || !connection_->closed()) return;
    close_reported_ = true;
    const int code = connection_->wait_closed(milliseconds(0)).value_or(-1);
    print({{"closed", {{"code", code}, {"reason", connection_->close_reason()}}}});
  }

  const ScriptSettings& settings_;
  std::ostream& out_;
  std::map<std::string, uint64_t> users_;  // names registered or logged in, for ${NAME} and say
  std::string token_;                      // of the last login
  std::unique_ptr<Connection> connection_;
  bool close_reported_ = false;
  std::optional<HttpResponse> last_;  // of the last HTTP request
  uint64_t highest_useq_ = 0;         // over printed inbox events, for a bare `ack`
};

}  // namespace

int run_script(std::istream& script_text, const std::string& name, const ScriptSettings& settings,
               std::ostream& out, std::ostream& err) {
  std::vector<Step> steps;
  try {
    steps = script::parse(script_text);
  } catch (const script::UsageError& error) {
    err << name << ":" << error.line << ": " << error.what() << std::endl;
    return script_usage;
  }
  Runner runner(settings, out);
  for (const Step& step : steps) {
    if (settings.verbose) err << name << ":" << step.line << ": " << step.text << std::endl;
    try {
      runner.run(step);
    } catch (const std::exception& error) {
      err << name << ":" << step.line << ": '" << step.text << "' failed: " << error.what()
          << std::endl;
      return script_failed;
    }
  }
  try {
    runner.finish();
  } catch (const std::exception& error) {
    err << name << ": closing at the end failed: " << error.what() << std::endl;
    return script_failed;
  }
  return script_ok;
}

std::string script_help() { return script::help(); }

}  // namespace imclient
