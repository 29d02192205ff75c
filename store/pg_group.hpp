#pragma once
// One group commit on PostgreSQL, as pg_store.cpp runs them: its transaction, the Txn that its
// builds write through, the read-ahead of the keys they named (CommitHints) and the pipeline that
// ends it with COMMIT. Everything here runs on the commit thread, on the writer connection.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/pg_conn.hpp"
#include "store/store.hpp"

namespace im::pg {

// What one group commit has done so far inside its transaction.
struct Group {
  bool begun = false;  // BEGIN was sent: a failure must end with ROLLBACK
  bool failed = false;
  std::string error;
  std::unordered_map<std::string, uint64_t> counters;  // locked by this transaction
  // Hinted records read at the start under their locks (nullopt: missing).
  std::unordered_map<std::string, std::optional<std::string>> read_ahead;
  std::map<std::string, std::optional<std::string>, std::less<>> writes;  // last put (or delete) per key
  std::vector<std::string> first_deletes;                                  // del_first

  // Records the first failure; the group then rolls back and every write in it fails.
  void fail(std::string why);
  // `conn` with this group's transaction begun (BEGIN is sent now if it was not), or null when the
  // group failed.
  Conn* transaction(Conn* conn);
};

// What a writer connection prepares before its first group (a pipeline cannot prepare).
const std::vector<const Statement*>& group_statements();

// Begins the group's transaction, and locks and reads every hinted counter and record, in one
// pipeline: without hints, each first use of a key in a build would cost a round trip.
void read_ahead(Conn& conn, const std::set<std::string>& counters, const std::set<std::string>& reads, Group& group);

// Sends the group's writes and COMMIT in one pipeline; true when COMMIT succeeded. Sets *torn when
// the connection cannot be used again (a pipeline left half sent).
bool commit_group(Conn& conn, Group& group, bool* torn);

// The Txn of one build in a group. `conn` may be null (not connected): every read then fails.
class GroupTxn final : public Txn {
 public:
  GroupTxn(Conn* conn, Group& group) : conn_(conn), group_(group) {}
  uint64_t next(const std::string& key) override { return ++counter(key); }
  uint64_t peek(const std::string& key) override { return counter(key); }
  void put(std::string_view k, std::string_view v) override { group_.writes[std::string(k)] = std::string(v); }
  void del(std::string_view k) override { group_.writes[std::string(k)] = std::nullopt; }
  void del_first(std::string_view k) override { group_.first_deletes.emplace_back(k); }
  bool get(std::string_view key, std::string* value) override { return lookup(key, value) == Lookup::found; }
  Lookup lookup(std::string_view key, std::string* value) override;

 private:
  uint64_t& counter(const std::string& key);
  Conn* conn_;
  Group& group_;
};

}  // namespace im::pg
