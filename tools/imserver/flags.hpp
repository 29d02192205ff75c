#pragma once
// imserver's command line and config file (PROTOCOL.md section 9): every tunable is a flag with
// dashes; `--config FILE` is a JSON object with the same names as keys; flags win.

#include <string>

#include "protocol/options.hpp"

namespace im {

struct FlagsResult {
  enum class Outcome { run, exit_ok, exit_error } outcome = Outcome::run;
  std::string message;  // help text, or what was wrong (naming the flag)
};

FlagsResult parse_flags(int argc, char** argv, ServerOptions& options);

}  // namespace im
