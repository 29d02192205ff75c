// What imbench reads about processes: the server's resident memory and CPU time from /proc, its
// own CPU time from getrusage, and which process is the server.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace imbench {

// VmRSS of `pid` in KiB; -1 if it cannot be read.
int64_t resident_kib(pid_t pid);
// utime + stime of `pid` in seconds (from /proc/<pid>/stat); -1 if it cannot be read.
double cpu_seconds(pid_t pid);
// CPU seconds of each of `pid`'s live threads by thread id, with the thread's name
// (/proc/<pid>/task/*/stat): imserver names its own (im.io, im.commit, im.leveldb, im.sweeper;
// CAF's are caf.*). Empty if nothing can be read.
struct ThreadCpu {
  std::string name;
  double seconds = 0;
};
std::map<pid_t, ThreadCpu> thread_cpu_seconds(pid_t pid);
// This process's CPU seconds (user + system), plus those of its waited-for children.
double own_cpu_seconds();
// What this process used, its threads included and its children not: CPU seconds, and how often
// its threads gave up the CPU to wait (a wake-up each).
struct Usage {
  double cpu_s = 0;
  double voluntary_switches = 0;
  Usage operator-(const Usage& earlier) const {
    return {cpu_s - earlier.cpu_s, voluntary_switches - earlier.voluntary_switches};
  }
};
Usage own_usage();
// The process that has a socket listening on 127.0.0.x:`port`, found through /proc/net/tcp and
// /proc/*/fd; failing that the newest process named "imserver" (as `pgrep -n imserver`); 0 if none.
pid_t find_server_pid(uint16_t port);
// The soft limit on open files of this process.
int64_t open_files_limit();

}  // namespace imbench
