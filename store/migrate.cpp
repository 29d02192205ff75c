#include "store/migrate.hpp"

#include <filesystem>
#include <vector>

#include <spdlog/spdlog.h>

#include "store/file_bytes.hpp"
#include "store/keys.hpp"
#include "store/pg_conn.hpp"
#include "store/social.hpp"
#include "store/store.hpp"

namespace im {

namespace {

using pg::Params;
using pg::Statement;

const Statement kCopyRecords{"copy_records",
                             "INSERT INTO im_kv (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
                             "ON CONFLICT (k) DO UPDATE SET v = excluded.v"};
const Statement kCopyCounters{"copy_counters",
                              "INSERT INTO im_counter (k, v) SELECT * FROM unnest($1::bytea[], $2::int8[]) "
                              "ON CONFLICT (k) DO UPDATE SET v = excluded.v"};
const Statement kReadBack{"read_back", "SELECT v FROM im_kv WHERE k = $1"};

constexpr size_t kBatch = 1000;      // rows a statement (and a transaction) copies
constexpr uint64_t kSampleEvery = 50;  // one record in this many is read back

// Rows waiting to go in one multi-row statement.
struct Batch {
  std::vector<std::string> keys, values;
  std::vector<uint64_t> numbers;
  size_t size() const { return keys.size(); }
};

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool flush_records(pg::Conn& conn, Batch& b, std::string* error) {
  if (b.size() == 0) return true;
  std::vector<std::string_view> k(b.keys.begin(), b.keys.end()), v(b.values.begin(), b.values.end());
  Params p;
  p.bytes(pg::bytea_array(k)).bytes(pg::bytea_array(v));
  auto r = conn.run(kCopyRecords, p);
  if (!r.ok()) return fail(error, "copying records: " + r.error());
  b = Batch();
  return true;
}

bool flush_counters(pg::Conn& conn, Batch& b, std::string* error) {
  if (b.size() == 0) return true;
  std::vector<std::string_view> k(b.keys.begin(), b.keys.end());
  Params p;
  p.bytes(pg::bytea_array(k)).bytes(pg::int8_array(b.numbers));
  auto r = conn.run(kCopyCounters, p);
  if (!r.ok()) return fail(error, "copying counters: " + r.error());
  b = Batch();
  return true;
}

uint64_t count_rows(pg::Conn& conn, const char* table) {
  auto r = conn.exec((std::string("SELECT count(*) FROM ") + table).c_str());
  return r.ok() ? std::stoull(PQgetvalue(r.get(), 0, 0)) : UINT64_MAX;
}

// The uploads of the data directory whose store is at `leveldb_path` (DIR/db: DIR/files).
std::string files_directory(const std::string& leveldb_path) {
  return (std::filesystem::path(leveldb_path).parent_path() / "files").string();
}

// Copies each recorded file's bytes into the database (as the PostgreSQL store keeps them) and
// reads every one back. A recorded file whose bytes are missing on disk was already unreadable;
// it is counted and logged, not a reason to stop.
bool copy_files(const Store& from, pg::Conn& to, const std::string& directory, const std::vector<std::string>& ids,
                MigrationReport* report, std::string* error) {
  FileStorage disk;
  disk.directory = directory;
  for (const auto& id : ids) {
    auto record = find_file_record(from, id);
    auto bytes = record ? files_on_disk::read(disk, id, record->size) : std::nullopt;
    if (!bytes) {
      spdlog::warn("file {} is recorded but its bytes are not in {}: not copied", id, directory);
      ++report->missing_files;
      continue;
    }
    auto key = keys::file_bytes(id);
    Batch one;
    one.keys.push_back(key);
    one.values.push_back(*bytes);
    if (!flush_records(to, one, error)) return false;
    Params p;
    p.bytes(key);
    auto r = to.run(kReadBack, p);
    if (!r.ok() || r.rows() != 1 || r.bytes(0, 0) != *bytes) return fail(error, "file " + id + " differs after the copy");
    ++report->files;
  }
  return true;
}

}  // namespace

bool migrate_leveldb_to_postgres(const std::string& leveldb_path, const std::string& conninfo,
                                 MigrationReport* report, std::string* error) {
  std::error_code ec;
  if (!std::filesystem::exists(leveldb_path + "/CURRENT", ec))
    return fail(error, leveldb_path + " holds no LevelDB store (give the server's data directory's db/)");
  std::string source = std::filesystem::canonical(leveldb_path, ec).string();
  std::string open_error;
  auto from = Store::open({leveldb_path, false}, &open_error);
  if (!from) return fail(error, "cannot open " + leveldb_path + " (is the server still running?): " + open_error);
  auto to = pg::Conn::open(conninfo, 0, &open_error);
  if (!to) return fail(error, "cannot connect to PostgreSQL: " + open_error);
  if (!pg::migrate(*to, &open_error)) return fail(error, "cannot create the schema: " + open_error);

  // Empty, or this source's own earlier copy: nothing else is ever overwritten.
  Params by_source;
  by_source.bytes(source);
  auto earlier = to->run({"import_state", "SELECT finished FROM im_import WHERE source = convert_from($1, 'UTF8')"},
                         by_source);
  if (!earlier.ok()) return fail(error, earlier.error());
  report->resumed = earlier.rows() == 1;
  if (!report->resumed) {
    if (count_rows(*to, "im_kv") != 0 || count_rows(*to, "im_counter") != 0)
      return fail(error, "the database is not empty and holds no copy of " + source);
    auto marked = to->run({"import_begin", "INSERT INTO im_import VALUES (convert_from($1, 'UTF8'), false)"},
                          by_source);
    if (!marked.ok()) return fail(error, marked.error());
  }

  // Records, in key order; counters go to their own table.
  Batch records, counters;
  std::vector<std::string> file_ids;
  std::string failure;
  bool read_all = from->scan("", "", false, [&](std::string_view key, std::string_view value) {
    if (!key.empty() && key[0] == keys::kCounter) {
      counters.keys.emplace_back(key);
      counters.numbers.push_back(from->counter(std::string(key)));
      if (counters.size() == kBatch && !flush_counters(*to, counters, &failure)) return false;
      return true;
    }
    if (!key.empty() && key[0] == keys::kFile) file_ids.emplace_back(key.substr(1));
    records.keys.emplace_back(key);
    records.values.emplace_back(value);
    ++report->records;
    if (records.size() == kBatch && !flush_records(*to, records, &failure)) return false;
    return true;
  });
  if (!failure.empty()) return fail(error, failure);
  if (!read_all) return fail(error, "reading " + leveldb_path + " failed");
  if (!flush_records(*to, records, error) || !flush_counters(*to, counters, error)) return false;
  // An inbox head is implied by the newest inbox key (keys.hpp) and is stored as a key only after a
  // deletion: every user's head becomes a row of its own.
  std::string user_prefix(1, keys::kUser);
  bool users_read = from->scan(user_prefix, keys::prefix_end(user_prefix), false, [&](std::string_view key, std::string_view) {
    if (key.size() != 9) return true;
    auto head_key = keys::counter_inbox_head(keys::get_u64(key.substr(1)));
    auto head = from->counter(head_key);
    if (head == 0) return true;
    counters.keys.push_back(head_key);
    counters.numbers.push_back(head);
    return counters.size() < kBatch || flush_counters(*to, counters, &failure);
  });
  if (!failure.empty()) return fail(error, failure);
  if (!users_read) return fail(error, "reading the users of " + leveldb_path + " failed");
  if (!flush_counters(*to, counters, error)) return false;
  report->counters = count_rows(*to, "im_counter");

  if (!copy_files(*from, *to, files_directory(leveldb_path), file_ids, report, error)) return false;

  // The check: as many records as the source has (and a row per file's bytes), and a sample read
  // back byte for byte.
  auto copied = count_rows(*to, "im_kv");
  if (copied != report->records + report->files)
    return fail(error, "the database holds " + std::to_string(copied) + " records, the source " +
                           std::to_string(report->records) + " and " + std::to_string(report->files) + " files");
  uint64_t index = 0;
  bool sampled_all = from->scan("", "", false, [&](std::string_view key, std::string_view value) {
    if (!key.empty() && key[0] == keys::kCounter) return true;
    if (index++ % kSampleEvery != 0) return true;
    Params p;
    p.bytes(key);
    auto r = to->run(kReadBack, p);
    if (!r.ok() || r.rows() != 1 || r.bytes(0, 0) != value) {
      failure = "record " + std::to_string(index - 1) + " differs after the copy";
      return false;
    }
    ++report->sampled;
    return true;
  });
  if (!failure.empty()) return fail(error, failure);
  if (!sampled_all) return fail(error, "reading " + leveldb_path + " again failed");
  auto finished = to->run({"import_end", "UPDATE im_import SET finished = true WHERE source = convert_from($1, 'UTF8')"},
                          by_source);
  if (!finished.ok()) return fail(error, finished.error());
  from->flush();
  return true;
}

}  // namespace im
