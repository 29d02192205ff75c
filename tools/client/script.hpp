// The imclient script language: one step per line, run against a server over real sockets.
// The step reference is script_help().
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

#include "client/connection.hpp"
#include "client/endpoint.hpp"

namespace imclient {

struct ScriptSettings {
  Endpoint endpoint;
  Transport transport = Transport::websocket;
  Encoding encoding = Encoding::json;
  std::chrono::milliseconds timeout{5000};  // connects, HTTP requests, `auth` and `expect`
  bool verbose = false;                     // echo each step to `err` before running it
};

// Exit statuses of run_script, and so of imclient.
constexpr int script_ok = 0;
constexpr int script_failed = 1;  // a step failed at run time (expect, status, closed, I/O...)
constexpr int script_usage = 2;   // the script is malformed: nothing was run

// Reads and checks the whole script first, so that a malformed line anywhere runs nothing; then
// runs the steps in order and stops at the first failure. Everything received (frames, HTTP
// answers, closes) goes to `out`, one JSON line each; diagnostics go to `err` prefixed "NAME:LINE:
// ".
int run_script(std::istream& script, const std::string& name, const ScriptSettings& settings,
               std::ostream& out, std::ostream& err);

// The step reference, for --help.
std::string script_help();

}  // namespace imclient
