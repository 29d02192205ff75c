#include "support/server_process.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "client/http.hpp"
#include "support/postgres.hpp"
#include "support/test_server.hpp"

namespace imtest {

uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

ServerProcess::ServerProcess(const std::string& data_dir, std::vector<std::string> args, long open_files_limit,
                             long file_size_limit) {
  endpoint.port = free_port();
  log_path_ = data_dir + "/server.log";
  std::vector<std::string> argv_strings = {imserver_binary(), "--port", std::to_string(endpoint.port),
                                           "--bind", "127.0.0.1", "--data-dir", data_dir};
  if (auto postgres = postgres_for(data_dir); !postgres.empty()) {
    argv_strings.push_back("--postgres");
    argv_strings.push_back(postgres);
  }
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (open_files_limit > 0) {
      rlimit limit{};
      getrlimit(RLIMIT_NOFILE, &limit);
      limit.rlim_cur = static_cast<rlim_t>(open_files_limit);
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    if (file_size_limit > 0) {
      // A write past the limit fails with EFBIG instead of killing the process (SIGXFSZ stays
      // ignored across exec).
      signal(SIGXFSZ, SIG_IGN);
      rlimit limit{};
      getrlimit(RLIMIT_FSIZE, &limit);
      limit.rlim_cur = static_cast<rlim_t>(file_size_limit);
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(126);
    }
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Ready when /healthz answers; bounded by 10 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("imserver exited at start: " + log());
    }
    try {
      if (imclient::http(endpoint, "GET", "/healthz", "", "", "application/json", std::chrono::milliseconds(500))
              .status == 200)
        return;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling for readiness
  }
  throw std::runtime_error("imserver did not get ready: " + log());
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop(SIGKILL);
}

int ServerProcess::stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string ServerProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunResult run_imserver(const std::string& args) {
  RunResult r;
  std::string cmd = imserver_binary() + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + cmd);
  char buf[512];
  while (auto n = fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace imtest
