#include "store/pg_conn.hpp"

#include <arpa/inet.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace im::pg {

namespace {

void put_be32(std::string& out, uint32_t v) {
  v = htonl(v);
  out.append(reinterpret_cast<const char*>(&v), 4);
}

void put_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// The array header of the binary format: one dimension, no NULLs, the element type, its length.
std::string array_header(uint32_t element_oid, size_t count) {
  std::string out;
  put_be32(out, 1);  // dimensions
  put_be32(out, 0);  // has NULLs
  put_be32(out, element_oid);
  put_be32(out, static_cast<uint32_t>(count));
  put_be32(out, 1);  // lower bound
  return out;
}

constexpr uint32_t kByteaOid = 17;
constexpr uint32_t kInt8Oid = 20;

// Each step once, in order; a step is never changed after release (a database may be at any one).
const char* const kMigrations[] = {
    // 1: the key-value records (store/keys.hpp) and every counter, each a row of its own. bytea
    // sorts bytewise, as LevelDB does, so a range scan walks an inbox or a conversation in order.
    R"sql(
      CREATE TABLE im_kv (k bytea PRIMARY KEY, v bytea NOT NULL);
      CREATE TABLE im_counter (k bytea PRIMARY KEY, v bigint NOT NULL);
      -- Reads a record after taking a lock on its key that lasts until the transaction ends:
      -- two transactions that read the same key before deciding on it (a username, a cid) run
      -- one after the other. A function, so that the read runs in a statement of its own after
      -- the lock is granted (its snapshot sees whatever the holder committed) in one round trip.
      CREATE FUNCTION im_locked_get(key bytea, lock bigint) RETURNS bytea
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
          PERFORM pg_advisory_xact_lock(lock);
          RETURN (SELECT v FROM im_kv WHERE k = key);
        END $$;
    )sql",
    // 2: which LevelDB stores `imserver migrate` copied here, and whether each copy finished.
    R"sql(
      CREATE TABLE im_import (source text PRIMARY KEY, finished boolean NOT NULL);
    )sql",
};

}  // namespace

uint64_t Result::u64(int row, int col) const {
  auto b = bytes(row, col);
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < b.size(); ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

std::string Result::error() const {
  if (!r_) return "no result";
  const char* m = PQresultErrorMessage(r_);
  std::string s = m && *m ? m : PQresStatus(PQresultStatus(r_));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Params& Params::bytes(std::string_view v) {
  values_.emplace_back(v);
  lengths_.push_back(static_cast<int>(v.size()));
  formats_.push_back(1);
  return *this;
}

Params& Params::i64(int64_t v) {
  std::string s;
  put_be64(s, static_cast<uint64_t>(v));
  return bytes(s);
}

const char* const* Params::values() {
  pointers_.clear();
  for (auto& v : values_) pointers_.push_back(v.data());
  return pointers_.data();
}

std::unique_ptr<Conn> Conn::open(const std::string& conninfo, int statement_timeout_ms, std::string* error) {
  PGconn* raw = PQconnectdb(conninfo.c_str());
  std::unique_ptr<Conn> conn(new Conn(raw));
  if (!raw || PQstatus(raw) != CONNECTION_OK) {
    if (error) *error = raw ? PQerrorMessage(raw) : "out of memory";
    while (error && !error->empty() && error->back() == '\n') error->pop_back();
    return nullptr;
  }
  // Notices (a ROLLBACK with no transaction left, say) go to the debug log, not to stderr.
  PQsetNoticeProcessor(
      raw, [](void*, const char* message) { spdlog::debug("postgres: {}", message); }, nullptr);
  std::string setup = "SET TIME ZONE 'UTC'; SET client_min_messages = warning; SET statement_timeout = " +
                      std::to_string(statement_timeout_ms);
  auto r = conn->exec(setup.c_str());
  if (!r.ok()) {
    if (error) *error = r.error();
    return nullptr;
  }
  return conn;
}

Result Conn::exec(const char* sql) { return Result(PQexec(c_, sql)); }

bool Conn::prepare(const Statement& s) {
  if (prepared_.count(s.name)) return true;
  Result r(PQprepare(c_, s.name, s.sql, 0, nullptr));
  if (!r.ok()) {
    spdlog::warn("postgres: cannot prepare {}: {}", s.name, r.error());
    return false;
  }
  prepared_.insert(s.name);
  return true;
}

Result Conn::run(const Statement& s, Params& params) {
  if (!prepare(s)) return Result();
  return Result(PQexecPrepared(c_, s.name, params.size(), params.values(), params.lengths(), params.formats(), 1));
}

bool Conn::send(const Statement& s, Params& params) {
  if (!prepared_.count(s.name)) return false;  // prepared before the pipeline began
  return PQsendQueryPrepared(c_, s.name, params.size(), params.values(), params.lengths(), params.formats(), 1) ==
         1;
}

std::string bytea_array(const std::vector<std::string_view>& items) {
  auto out = array_header(kByteaOid, items.size());
  for (auto item : items) {
    put_be32(out, static_cast<uint32_t>(item.size()));
    out.append(item);
  }
  return out;
}

std::string int8_array(const std::vector<uint64_t>& items) {
  auto out = array_header(kInt8Oid, items.size());
  for (auto item : items) {
    put_be32(out, 8);
    put_be64(out, item);
  }
  return out;
}

int64_t lock_id(std::string_view key) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

bool migrate(Conn& conn, std::string* error) {
  auto fail = [&](const Result& r) {
    if (error) *error = r.error();
    conn.exec("ROLLBACK");
    return false;
  };
  // A session lock (the number spells "imschema"), held while this node looks and upgrades.
  auto locked = conn.exec("SELECT pg_advisory_lock(7596848474796713313)");
  if (!locked.ok()) return fail(locked);
  struct Unlock {
    Conn& conn;
    ~Unlock() { conn.exec("SELECT pg_advisory_unlock(7596848474796713313)"); }
  } unlock{conn};
  auto created = conn.exec("CREATE TABLE IF NOT EXISTS im_schema (version integer NOT NULL)");
  if (!created.ok()) return fail(created);
  auto current = conn.exec("SELECT coalesce(max(version), 0) FROM im_schema");
  if (!current.ok()) return fail(current);
  int version = std::atoi(PQgetvalue(current.get(), 0, 0));
  const int newest = static_cast<int>(std::size(kMigrations));
  if (version > newest) {
    if (error) *error = "the database's schema is version " + std::to_string(version) + ", newer than this server's (" +
                        std::to_string(newest) + ")";
    return false;
  }
  for (int step = version + 1; step <= newest; ++step) {
    auto begun = conn.exec("BEGIN");
    if (!begun.ok()) return fail(begun);
    auto applied = conn.exec(kMigrations[step - 1]);
    if (!applied.ok()) return fail(applied);
    auto recorded = conn.exec(("INSERT INTO im_schema VALUES (" + std::to_string(step) + ")").c_str());
    if (!recorded.ok()) return fail(recorded);
    auto committed = conn.exec("COMMIT");
    if (!committed.ok()) return fail(committed);
    spdlog::info("postgres: schema upgraded to version {}", step);
  }
  return true;
}

}  // namespace im::pg
