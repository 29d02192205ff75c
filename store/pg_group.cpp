#include "store/pg_group.hpp"

namespace im::pg {

namespace {

const Statement kLockCounter{"lock_counter",
                             "INSERT INTO im_counter AS c (k, v) VALUES ($1, 0) "
                             "ON CONFLICT (k) DO UPDATE SET v = c.v RETURNING v"};
const Statement kLockedGet{"locked_get", "SELECT im_locked_get($1, $2)"};
const Statement kSetCounters{"set_counters",
                             "UPDATE im_counter AS c SET v = u.v FROM unnest($1::bytea[], $2::int8[]) AS u(k, v) "
                             "WHERE c.k = u.k"};
const Statement kDelete{"delete", "DELETE FROM im_kv WHERE k = ANY($1::bytea[])"};
const Statement kPut{"put",
                     "INSERT INTO im_kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
                     "ON CONFLICT (k) DO UPDATE SET v = excluded.v"};
// The group's hinted keys (CommitHints), locked and read at its start: counters in key order,
// records under advisory locks taken in lock-id order, so that two processes' groups that need
// the same keys queue up instead of deadlocking. Each is one statement of the pipeline.
const Statement kCreateCounters{"create_counters",
                                "INSERT INTO im_counter (k, v) SELECT unnest($1::bytea[]), 0 ON CONFLICT (k) DO NOTHING"};
const Statement kLockCounters{"lock_counters",
                              "SELECT k, v FROM im_counter WHERE k = ANY($1::bytea[]) ORDER BY k FOR UPDATE"};
const Statement kLockKeys{"lock_keys",
                          "SELECT pg_advisory_xact_lock(id) FROM (SELECT unnest($1::int8[]) AS id ORDER BY 1) AS ids"};
const Statement kReadKeys{"read_keys", "SELECT k, v FROM im_kv WHERE k = ANY($1::bytea[])"};
const Statement kBegin{"begin", "BEGIN"};
const Statement kCommit{"commit", "COMMIT"};

}  // namespace

void Group::fail(std::string why) {
  if (failed) return;
  failed = true;
  error = std::move(why);
}

Conn* Group::transaction(Conn* conn) {
  if (failed) return nullptr;
  if (!conn) {
    fail("not connected");
    return nullptr;
  }
  if (!begun) {
    Params none;
    auto r = conn->run(kBegin, none);
    if (!r.ok()) {
      fail(r.error());
      return nullptr;
    }
    begun = true;
  }
  return conn;
}

const std::vector<const Statement*>& group_statements() {
  static const std::vector<const Statement*> all = {&kBegin,         &kCommit,       &kLockCounter, &kLockedGet,
                                                    &kSetCounters,   &kDelete,       &kPut,         &kCreateCounters,
                                                    &kLockCounters,  &kLockKeys,     &kReadKeys};
  return all;
}

void read_ahead(Conn& c, const std::set<std::string>& counter_set, const std::set<std::string>& read_set,
                Group& group) {
  if (counter_set.empty() && read_set.empty()) return;
  std::vector<std::string_view> counter_keys(counter_set.begin(), counter_set.end());
  std::vector<std::string_view> read_keys(read_set.begin(), read_set.end());
  std::vector<uint64_t> lock_ids;
  for (auto k : read_keys) lock_ids.push_back(static_cast<uint64_t>(lock_id(k)));
  if (PQenterPipelineMode(c.get()) != 1) return group.fail(c.error());
  Params none, counters, locks, reads;
  bool queued = c.send(kBegin, none);
  group.begun = queued;
  if (!counter_keys.empty()) {
    counters.bytes(pg::bytea_array(counter_keys));
    queued = queued && c.send(kCreateCounters, counters) && c.send(kLockCounters, counters);
  }
  if (!read_keys.empty()) {
    locks.bytes(pg::int8_array(lock_ids));
    reads.bytes(pg::bytea_array(read_keys));
    queued = queued && c.send(kLockKeys, locks) && c.send(kReadKeys, reads);
  }
  queued = queued && PQpipelineSync(c.get()) == 1;
  std::string error = queued ? "" : c.error();
  // Results in the order sent; the rows of the two reads are recognised by their statement.
  int statement = 0;
  const int lock_counters = counter_keys.empty() ? -1 : 2, read_records = read_keys.empty() ? -1 : (counter_keys.empty() ? 2 : 4);
  if (queued) {
    for (;;) {
      Result r(PQgetResult(c.get()));
      if (!r.get()) {
        if (c.broken()) {
          if (error.empty()) error = c.error();
          break;
        }
        ++statement;
        continue;
      }
      if (PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC) break;
      if (!r.ok()) {
        if (error.empty()) error = r.error();
        continue;
      }
      if (statement == lock_counters)
        for (int i = 0; i < r.rows(); ++i) group.counters[std::string(r.bytes(i, 0))] = r.u64(i, 1);
      if (statement == read_records)
        for (int i = 0; i < r.rows(); ++i) group.read_ahead[std::string(r.bytes(i, 0))] = std::string(r.bytes(i, 1));
    }
  }
  if (PQexitPipelineMode(c.get()) != 1) {
    if (error.empty()) error = "a pipeline was left half read";
  }
  if (!error.empty()) return group.fail(error);
  for (auto k : read_keys) group.read_ahead.try_emplace(std::string(k), std::nullopt);
}

bool commit_group(Conn& c, Group& group, bool* torn) {
  std::vector<std::string_view> counter_keys, put_keys, put_values, delete_keys;
  std::vector<uint64_t> counter_values;
  for (const auto& [k, v] : group.counters) {
    counter_keys.push_back(k);
    counter_values.push_back(v);
  }
  for (const auto& k : group.first_deletes) delete_keys.push_back(k);
  std::vector<std::string_view> later_deletes;
  for (const auto& [k, v] : group.writes) {
    if (v) {
      put_keys.push_back(k);
      put_values.push_back(*v);
    } else {
      later_deletes.push_back(k);
    }
  }
  // del_first keys go first, then the group's own deletes: a key the group both deletes and puts
  // ends as its last write says, and writes only have that one (group.writes).
  delete_keys.insert(delete_keys.end(), later_deletes.begin(), later_deletes.end());
  if (!group.begun && counter_keys.empty() && put_keys.empty() && delete_keys.empty()) return true;

  if (PQenterPipelineMode(c.get()) != 1) {
    group.fail(c.error());
    return false;
  }
  bool queued = true;
  Params none;
  if (!group.begun) {
    queued = queued && c.send(kBegin, none);
    group.begun = queued;  // a BEGIN was sent: a failure must end with ROLLBACK
  }
  if (!counter_keys.empty()) {
    Params p;
    p.bytes(pg::bytea_array(counter_keys)).bytes(pg::int8_array(counter_values));
    queued = queued && c.send(kSetCounters, p);
  }
  if (!delete_keys.empty()) {
    Params p;
    p.bytes(pg::bytea_array(delete_keys));
    queued = queued && c.send(kDelete, p);
  }
  if (!put_keys.empty()) {
    Params p;
    p.bytes(pg::bytea_array(put_keys)).bytes(pg::bytea_array(put_values));
    queued = queued && c.send(kPut, p);
  }
  Params commit_params;
  queued = queued && c.send(kCommit, commit_params);
  queued = queued && PQpipelineSync(c.get()) == 1;
  bool ok = queued;
  std::string error = queued ? "" : c.error();
  // Every result of the pipeline, up to its sync: each statement's, then a null between them.
  if (queued) {
    for (;;) {
      Result r(PQgetResult(c.get()));
      if (!r.get()) {
        if (c.broken()) {  // the outcome is unknown: reported as a failure, the resend dedups
          ok = false;
          break;
        }
        continue;
      }
      auto status = PQresultStatus(r.get());
      if (status == PGRES_PIPELINE_SYNC) break;
      if (!r.ok()) {
        if (ok) error = r.error();
        ok = false;
      }
    }
  }
  if (!ok) group.fail(error.empty() ? c.error() : error);
  // A pipeline left half sent cannot be left: the caller drops the connection, and the server
  // rolls the transaction back when the session ends.
  *torn = PQexitPipelineMode(c.get()) != 1;
  return ok;
}

uint64_t& GroupTxn::counter(const std::string& key) {
  auto it = group_.counters.find(key);
  if (it != group_.counters.end()) return it->second;
  uint64_t value = 0;
  if (auto* c = group_.transaction(conn_)) {
    Params p;
    p.bytes(key);
    auto r = c->run(kLockCounter, p);
    if (r.ok() && r.rows() == 1) value = r.u64(0, 0);
    else group_.fail(r.error());
  }
  return group_.counters.emplace(key, value).first->second;
}

Lookup GroupTxn::lookup(std::string_view key, std::string* value) {
  if (auto it = group_.writes.find(key); it != group_.writes.end()) {
    if (!it->second) return Lookup::missing;
    *value = *it->second;
    return Lookup::found;
  }
  if (auto it = group_.read_ahead.find(std::string(key)); it != group_.read_ahead.end()) {
    if (!it->second) return Lookup::missing;
    *value = *it->second;
    return Lookup::found;
  }
  auto* c = group_.transaction(conn_);
  if (!c) return Lookup::failed;
  Params p;
  p.bytes(key).i64(pg::lock_id(key));
  auto r = c->run(kLockedGet, p);
  if (!r.ok() || r.rows() != 1) {
    group_.fail(r.error());
    return Lookup::failed;
  }
  if (r.null(0, 0)) return Lookup::missing;
  value->assign(r.bytes(0, 0));
  return Lookup::found;
}

}  // namespace im::pg
