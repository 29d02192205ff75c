#pragma once
// A thin layer over libpq for the PostgreSQL store: a connection that prepares its statements once,
// results that free themselves, parameters and results in binary (bytea is raw bytes, bigint is 8
// big-endian bytes), and one-dimensional binary arrays for the multi-row writes of a group commit.
// Included only by the store's own PostgreSQL files: libpq-fe.h stays out of every other header.

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace im::pg {

// A PGresult that is cleared when this goes away.
class Result {
 public:
  explicit Result(PGresult* r = nullptr) : r_(r) {}
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result& operator=(Result&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  Result(const Result&) = delete;
  ~Result() { PQclear(r_); }

  // The command succeeded (with or without rows).
  bool ok() const {
    auto s = PQresultStatus(r_);
    return r_ && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
  }
  int rows() const { return PQntuples(r_); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string_view bytes(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col))};
  }
  uint64_t u64(int row, int col) const;  // a binary bigint
  std::string error() const;
  PGresult* get() const { return r_; }

 private:
  PGresult* r_;
};

// Parameters of one statement, all sent in binary.
class Params {
 public:
  Params& bytes(std::string_view v);
  Params& i64(int64_t v);
  Params& u64(uint64_t v) { return i64(static_cast<int64_t>(v)); }

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values();
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A prepared statement: its name, used per connection, and its text.
struct Statement {
  const char* name;
  const char* sql;
};

class Conn {
 public:
  // Connects and sets the session up (statement timeout, UTC). Null, with *error set, on failure.
  static std::unique_ptr<Conn> open(const std::string& conninfo, int statement_timeout_ms, std::string* error);
  ~Conn() { PQfinish(c_); }

  // Runs a statement without parameters (BEGIN, COMMIT, DDL), results in text.
  Result exec(const char* sql);
  // Runs `s`, preparing it on this connection the first time. Results in binary.
  Result run(const Statement& s, Params& params);
  // The same, queued in pipeline mode (see PQsendQueryPrepared); false if it could not be sent.
  bool send(const Statement& s, Params& params);
  // Prepares `s` now (not allowed inside a pipeline), unless it was already.
  bool prepare(const Statement& s);

  bool broken() const { return PQstatus(c_) != CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c_); }
  PGconn* get() const { return c_; }

 private:
  explicit Conn(PGconn* c) : c_(c) {}
  PGconn* c_;
  std::unordered_set<std::string> prepared_;
};

// One-dimensional binary arrays of bytea and of bigint, as a bytea[] or int8[] parameter.
std::string bytea_array(const std::vector<std::string_view>& items);
std::string int8_array(const std::vector<uint64_t>& items);

// A 64-bit FNV-1a hash: the advisory-lock number of a key.
int64_t lock_id(std::string_view key);

// Creates or upgrades the schema to the newest version (pg_schema.cpp), under an advisory lock so
// that nodes starting together apply each step once. Returns false with *error on failure.
bool migrate(Conn& conn, std::string* error);

}  // namespace im::pg
