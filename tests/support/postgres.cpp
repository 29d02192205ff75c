#include "support/postgres.hpp"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/types.h>

#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace imtest {

namespace {

const char* base_conninfo() {
  const char* base = std::getenv("IMTEST_POSTGRES");
  return base && *base ? base : nullptr;
}

}  // namespace

// Runs `CREATE DATABASE name` on the server `base` points at, unless it exists.
static void create_database(const std::string& base, const std::string& name) {
  PGconn* conn = PQconnectdb(base.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot reach the test PostgreSQL (" + base + "): " + error);
  }
  PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  bool created = PQresultStatus(r) == PGRES_COMMAND_OK;
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  bool existed = state && std::string(state) == "42P04";  // duplicate_database: a restart
  std::string error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  if (!created && !existed) throw std::runtime_error("cannot create the test database " + name + ": " + error);
}

bool on_postgres() { return base_conninfo() != nullptr; }

std::string postgres_for(const std::string& data_dir) {
  const char* base = base_conninfo();
  if (!base) return "";
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data_dir) h = (h ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof name, "im_%016llx", static_cast<unsigned long long>(h));
  create_database(base, name);
  return std::string(base) + " dbname=" + name;
}

PrivatePostgres::PrivatePostgres() {
  std::string pattern = (std::filesystem::temp_directory_path() / "imtest-pg-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  script("start");
}

PrivatePostgres::~PrivatePostgres() {
  try {
    if (paused_) resume();  // a stopped server would never hear the shutdown
    script("destroy");
  } catch (const std::exception&) {  // nothing more to do in a destructor
  }
}

void PrivatePostgres::stop() { script("stop"); }
void PrivatePostgres::start() { script("start"); }

void PrivatePostgres::pause() {
  signal_all(SIGSTOP);
  paused_ = true;
}

void PrivatePostgres::resume() {
  signal_all(SIGCONT);
  paused_ = false;
}

// The postmaster (the first line of postmaster.pid) and every process whose parent it is.
void PrivatePostgres::signal_all(int signal) {
  std::ifstream pid_file(dir_ + "/data/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pid_file >> postmaster) || postmaster <= 0) throw std::runtime_error("no postmaster.pid in " + dir_);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    pid_t parent = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &parent) != 2) continue;
    if (parent == postmaster) ::kill(static_cast<pid_t>(std::stol(name)), signal);
  }
  ::kill(postmaster, signal);
}

std::string PrivatePostgres::database(const std::string& name) {
  std::string base = "host=" + dir_ + " user=postgres dbname=postgres";
  create_database(base, name);
  return "host=" + dir_ + " user=postgres dbname=" + name;
}

void PrivatePostgres::script(const std::string& action) {
  std::string command = std::string(IM_SOURCE_DIR) + "/scripts/postgres " + action + " " + dir_ +
                        (action == "start" ? " --fast" : "") + " >/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

}  // namespace imtest
