#include "proc_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace imbench {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (!dir) return pids;
  while (auto* entry = readdir(dir)) {
    char* end = nullptr;
    long value = std::strtol(entry->d_name, &end, 10);
    if (end && *end == '\0' && value > 0) pids.push_back(static_cast<pid_t>(value));
  }
  closedir(dir);
  return pids;
}

// Field `index` (1-based, as in proc(5)) of a stat file's text (/proc/<pid>/stat or
// /proc/<pid>/task/<tid>/stat); the command name may hold spaces, so counting starts after its
// closing parenthesis.
std::string stat_text_field(const std::string& text, int index) {
  auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) return "";
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= index && rest >> field; ++i) {
  }
  return field;
}

std::string stat_field(pid_t pid, int index) {
  return stat_text_field(read_all("/proc/" + std::to_string(pid) + "/stat"), index);
}

// utime + stime of a stat file's text in seconds; -1 if it cannot be read.
double stat_cpu_seconds(const std::string& text) {
  auto utime = stat_text_field(text, 14), stime = stat_text_field(text, 15);
  if (utime.empty() || stime.empty()) return -1;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::strtod(utime.c_str(), nullptr) + std::strtod(stime.c_str(), nullptr)) / ticks;
}

// Inodes of listening TCP sockets on `port` (state 0A) from /proc/net/tcp and tcp6.
std::vector<std::string> listening_inodes(uint16_t port) {
  std::vector<std::string> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream lines(read_all(table));
    std::string line;
    std::getline(lines, line);  // header
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retrans, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retrans >> uid >> timeout >> inode;
      auto colon = local.rfind(':');
      if (colon == std::string::npos || state != "0A") continue;
      if (std::strtoul(local.substr(colon + 1).c_str(), nullptr, 16) == port) inodes.push_back(inode);
    }
  }
  return inodes;
}

}  // namespace

int64_t resident_kib(pid_t pid) {
  std::istringstream lines(read_all("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

double cpu_seconds(pid_t pid) {
  return stat_cpu_seconds(read_all("/proc/" + std::to_string(pid) + "/stat"));
}

std::map<pid_t, ThreadCpu> thread_cpu_seconds(pid_t pid) {
  std::map<pid_t, ThreadCpu> by_thread;
  auto task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(task_dir.c_str());
  if (!dir) return by_thread;
  while (auto* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    auto text = read_all(task_dir + "/" + entry->d_name + "/stat");
    auto open = text.find('('), close = text.rfind(')');
    auto seconds = stat_cpu_seconds(text);
    if (open == std::string::npos || close == std::string::npos || close < open || seconds < 0) continue;
    auto tid = static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10));
    by_thread[tid] = {text.substr(open + 1, close - open - 1), seconds};
  }
  closedir(dir);
  return by_thread;
}

namespace {

double rusage_seconds(const rusage& u) {
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

}  // namespace

double own_cpu_seconds() {
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);
  return own_usage().cpu_s + rusage_seconds(children);
}

Usage own_usage() {
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  return {rusage_seconds(self), static_cast<double>(self.ru_nvcsw)};
}

pid_t find_server_pid(uint16_t port) {
  auto inodes = listening_inodes(port);
  auto pids = all_pids();
  if (!inodes.empty()) {
    for (pid_t pid : pids) {
      std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
      DIR* dir = opendir(fd_dir.c_str());
      if (!dir) continue;
      bool found = false;
      while (auto* entry = readdir(dir)) {
        char target[128];
        auto path = fd_dir + "/" + entry->d_name;
        auto n = readlink(path.c_str(), target, sizeof(target) - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        for (auto& inode : inodes)
          if (std::string(target) == "socket:[" + inode + "]") found = true;
        if (found) break;
      }
      closedir(dir);
      if (found) return pid;
    }
  }
  pid_t newest = 0;
  unsigned long long newest_start = 0;
  for (pid_t pid : pids) {
    auto comm = read_all("/proc/" + std::to_string(pid) + "/comm");
    if (comm != "imserver\n") continue;
    auto start = std::strtoull(stat_field(pid, 22).c_str(), nullptr, 10);
    if (newest == 0 || start >= newest_start) newest = pid, newest_start = start;
  }
  return newest;
}

int64_t open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  return static_cast<int64_t>(limit.rlim_cur);
}

}  // namespace imbench
