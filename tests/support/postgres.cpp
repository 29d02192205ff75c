#include "support/postgres.hpp"

#include <libpq-fe.h>

#include <cstdio>
#include <filesystem>
#include <cstdlib>
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
    script("destroy");
  } catch (const std::exception&) {  // nothing more to do in a destructor
  }
}

void PrivatePostgres::stop() { script("stop"); }
void PrivatePostgres::start() { script("start"); }

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
