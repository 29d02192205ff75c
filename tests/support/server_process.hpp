#pragma once
// The real imserver binary as a child process, for tests of flags, signals and crashes.

#include <sys/types.h>

#include <string>
#include <vector>

#include "client/endpoint.hpp"

namespace imtest {

class ServerProcess {
 public:
  // Starts `imserver --port P --bind 127.0.0.1 --data-dir DIR <args...>` on a free port and
  // waits (up to 10 s) until GET /healthz answers 200. Throws if it exits or never gets ready.
  // A positive `open_files_limit` lowers the child's soft RLIMIT_NOFILE to it before exec; a
  // positive `file_size_limit` sets its soft RLIMIT_FSIZE (bytes), so that writing any file past
  // it fails with EFBIG (a full disk, for one file at a time).
  ServerProcess(const std::string& data_dir, std::vector<std::string> args, long open_files_limit = 0,
                long file_size_limit = 0);
  ~ServerProcess();  // SIGKILL if still running

  imclient::Endpoint endpoint;
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the exit; returns the exit status (or 128 + signal).
  int stop(int signal);
  // Where the child's stdout and stderr went.
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// A TCP port that was free a moment ago.
uint16_t free_port();

// `imserver <args>` (a shell command line) run to its exit, for flags that stop it at start:
// its exit code (-1 if killed) and its stdout and stderr together.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run_imserver(const std::string& args);

}  // namespace imtest
