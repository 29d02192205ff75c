// Internal to the script runner: the parsed form of a script and ${NAME} expansion.
#pragma once

#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

namespace imclient::script {

struct Step {
  int line = 0;
  std::string text;  // the line as written, trimmed
  std::string verb;
  std::vector<std::string> args;  // the verb's arguments; a trailing free-text one keeps its spaces
};

// A malformed script: the line and what is wrong with it.
struct UsageError : std::runtime_error {
  UsageError(int line, const std::string& what) : std::runtime_error(what), line(line) {}
  int line;
};

// Parses and statically checks the whole script (arities, numbers, JSON, steps that need an earlier
// `connect`, `login` or `http`, names used before being registered or logged in). Throws
// UsageError.
std::vector<Step> parse(std::istream& script);

// Replaces every ${NAME} in `text` with lookup(NAME). Throws UsageError(0, ...) on an unterminated
// ${.
std::string expand(const std::string& text,
                   const std::function<std::string(const std::string&)>& lookup);

// True for a non-empty string of decimal digits.
bool is_number(const std::string& text);

// The step reference.
std::string help();

}  // namespace imclient::script
