// Parsing and static checking of imclient scripts, and the step reference generated from the same
// table so that the two cannot drift apart.
#include <cctype>
#include <istream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "client/script.hpp"
#include "client/script_steps.hpp"

namespace imclient::script {

namespace {

struct Verb {
  const char* name;
  const char* synopsis;
  std::size_t min_args;
  std::size_t max_args;
  bool free_text;  // the last argument is the rest of the line, spaces included
  const char* description;
};

const Verb verbs[] = {
    {"register", "register USER PASS", 2, 2, false,
     "POST /api/register; fails unless 201. ${USER} becomes USER's id"},
    {"login", "login USER PASS", 2, 2, false,
     "POST /api/login; fails unless 200. Later steps use this token"},
    {"connect", "connect", 0, 0, false,
     "open a connection (WebSocket GET /ws, or raw TCP with --tcp), closing any previous one"},
    {"auth", "auth DEVICE [SINCE]", 1, 2, false,
     "send auth with the token of the last login, then expect auth_ok"},
    {"send", "send JSON", 1, 1, true, "send JSON as one frame, in the connection's encoding"},
    {"raw", "raw TEXT", 1, 1, true,
     "send TEXT unparsed as one frame (WebSocket text frame; raw TCP: length prefix + TEXT)"},
    {"say", "say USER TEXT", 2, 2, true,
     "send {type:send, cid:<fresh>, to:{user}, body:{text:TEXT}}; USER is an id or a name"},
    {"ping", "ping", 0, 0, false, "send {\"type\":\"ping\"}"},
    {"expect", "expect TYPE [MS]", 1, 2, false,
     "read frames until one of TYPE (default limit --timeout-ms); fails on timeout or close"},
    {"wait", "wait MS", 1, 1, false, "print whatever arrives during MS milliseconds"},
    {"ack", "ack [USEQ]", 0, 1, false,
     "send {type:ack, useq}; without USEQ, the highest useq received so far"},
    {"http", "http METHOD PATH [JSON]", 2, 3, true,
     "an HTTP request with the token of the last login, if any; any status is fine"},
    {"status", "status CODE", 1, 1, false, "fails unless the last http step answered CODE"},
    {"closed", "closed [CODE]", 0, 1, false,
     "wait (up to --timeout-ms) for the server to close; with CODE, fails unless that was the "
     "code"},
    {"close", "close", 0, 0, false, "close the connection cleanly (WebSocket close 1000)"},
};

const Verb* find_verb(const std::string& name) {
  for (const Verb& verb : verbs)
    if (name == verb.name) return &verb;
  return nullptr;
}

// What earlier steps make available to later ones.
struct State {
  bool connected = false;
  bool logged_in = false;
  bool had_http = false;
  std::set<std::string> names;
};

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// Splits `text` into the verb and its arguments, the last one free text if the verb says so.
Step split(const std::string& text, int line) {
  Step step;
  step.line = line;
  step.text = text;
  std::istringstream words(text);
  words >> step.verb;
  const Verb* verb = find_verb(step.verb);
  if (!verb) throw UsageError(line, "unknown step '" + step.verb + "' (see --help)");
  std::string word;
  while (step.args.size() + (verb->free_text ? 1 : 0) < verb->max_args && words >> word)
    step.args.push_back(word);
  if (verb->free_text) {
    std::string rest;
    std::getline(words, rest);
    if (!trim(rest).empty()) step.args.push_back(trim(rest));
  } else if (words >> word) {
    throw UsageError(line, "too many arguments; usage: " + std::string(verb->synopsis));
  }
  if (step.args.size() < verb->min_args)
    throw UsageError(line, "missing arguments; usage: " + std::string(verb->synopsis));
  return step;
}

void require_number(const Step& step, std::size_t index, const char* what) {
  if (index < step.args.size() && !is_number(step.args[index]))
    throw UsageError(step.line, std::string(what) + " must be a non-negative integer, not '" +
                                    step.args[index] + "'");
}

// Expands `text` as it will be at run time, with 0 for every (known) user id.
std::string expand_statically(const Step& step, const std::string& text, const State& state) {
  return expand(text, [&](const std::string& name) {
    if (!state.names.count(name))
      throw UsageError(step.line, "${" + name + "} names no user registered or logged in earlier");
    return std::string("0");
  });
}

void require_json(const Step& step, std::size_t index, const State& state) {
  if (index >= step.args.size()) return;
  const std::string text = expand_statically(step, step.args[index], state);
  if (nlohmann::json::parse(text, nullptr, false).is_discarded())
    throw UsageError(step.line, "not valid JSON: " + step.args[index]);
}

void require(bool condition, const Step& step, const std::string& what) {
  if (!condition) throw UsageError(step.line, "'" + step.verb + "' needs " + what);
}

// Checks one step against what earlier steps provide, and records what it provides.
void check(const Step& step, State& state) {
  const std::string& verb = step.verb;
  const bool needs_connection = verb != "register" && verb != "login" && verb != "connect" &&
                                verb != "wait" && verb != "http" && verb != "status";
  if (needs_connection) require(state.connected, step, "an open connection: 'connect' first");

  if (verb == "register" || verb == "login") {
    state.names.insert(step.args[0]);
    if (verb == "login") state.logged_in = true;
  } else if (verb == "connect") {
    state.connected = true;
  } else if (verb == "close") {
    state.connected = false;
  } else if (verb == "auth") {
    require(state.logged_in, step, "a token: 'login' first");
    require_number(step, 1, "SINCE");
  } else if (verb == "send" || verb == "http") {
    require_json(step, verb == "send" ? 0 : 2, state);
  } else if (verb == "say") {
    if (!is_number(step.args[0]) && !state.names.count(step.args[0]))
      throw UsageError(
          step.line,
          "'" + step.args[0] + "' is neither a user id nor a name registered or logged in earlier");
  } else if (verb == "expect") {
    require_number(step, 1, "MS");
  } else if (verb == "wait" || verb == "ack" || verb == "closed") {
    require_number(step, 0, verb == "wait" ? "MS" : verb == "ack" ? "USEQ" : "CODE");
  } else if (verb == "status") {
    require_number(step, 0, "CODE");
    require(state.had_http, step, "an earlier 'http' step");
  }

  if (verb == "http") {
    static const std::set<std::string> methods = {"GET",  "POST",    "PUT",  "DELETE",
                                                  "HEAD", "OPTIONS", "PATCH"};
    if (!methods.count(step.args[0]))
      throw UsageError(step.line, "unknown HTTP method '" + step.args[0] + "'");
    if (expand_statically(step, step.args[1], state).rfind('/', 0) != 0)
      throw UsageError(step.line, "the path must start with '/': " + step.args[1]);
    state.had_http = true;
  }
}

}  // namespace

bool is_number(const std::string& text) {
  if (text.empty() || text.size() > 19) return false;  // fits in uint64_t
  for (const char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string expand(const std::string& text,
                   const std::function<std::string(const std::string&)>& lookup) {
  std::string result;
  std::size_t at = 0;
  for (;;) {
    const std::size_t open = text.find("${", at);
    if (open == std::string::npos) return result + text.substr(at);
    const std::size_t close = text.find('}', open);
    if (close == std::string::npos) throw UsageError(0, "unterminated ${ in: " + text);
    result += text.substr(at, open - at) + lookup(text.substr(open + 2, close - open - 2));
    at = close + 1;
  }
}

std::vector<Step> parse(std::istream& script) {
  std::vector<Step> steps;
  State state;
  std::string text;
  for (int line = 1; std::getline(script, text); ++line) {
    text = trim(text);
    if (text.empty() || text[0] == '#') continue;
    try {
      steps.push_back(split(text, line));
      check(steps.back(), state);
    } catch (const UsageError& error) {
      if (error.line == 0) throw UsageError(line, error.what());
      throw;
    }
  }
  return steps;
}

std::string help() {
  std::string text =
      "Script: one step per line; blank lines and lines starting with # are ignored.\n"
      "A script is checked whole before anything runs (exit 2 if malformed). Received frames,\n"
      "HTTP answers ({\"http\":{...}}) and closes ({\"closed\":{code,reason}}) are printed to\n"
      "stdout one JSON line each. Exit 0 when every step succeeded, 1 at the first failed step.\n"
      "In JSON and PATH arguments, ${USER} is the id of a user registered or logged in earlier.\n"
      "\nSteps:\n";
  for (const Verb& verb : verbs) {
    std::string synopsis = verb.synopsis;
    synopsis.resize(std::max<std::size_t>(synopsis.size() + 1, 26), ' ');
    text += "  " + synopsis + verb.description + "\n";
  }
  text +=
      "\nExample:\n"
      "  register alice secret-password\n"
      "  login alice secret-password\n"
      "  connect\n"
      "  auth laptop\n"
      "  ping\n"
      "  expect pong\n";
  return text;
}

}  // namespace imclient::script
