#pragma once
// `imserver migrate`: copies a stopped single node's LevelDB store into a PostgreSQL database
// (docs/STORAGE.md, "Migration").

#include <cstdint>
#include <string>

namespace im {

struct MigrationReport {
  uint64_t records = 0;   // key-value records copied
  uint64_t counters = 0;  // counters copied (inbox heads included)
  uint64_t sampled = 0;   // records read back and compared
  uint64_t files = 0;     // uploaded files' bytes copied from the data directory (each read back)
  uint64_t missing_files = 0;  // recorded files whose bytes were not on disk
  bool resumed = false;   // an earlier, interrupted run of the same source had begun
};

// Copies every record and counter of the LevelDB store at `leveldb_path` (a data directory's db/)
// into the database of `conninfo`, creating its schema, and the bytes of every uploaded file from
// the data directory's files/; then checks the counts, a sample of records and every file. The database
// must be empty, or hold an unfinished (or finished) copy of the same source: a run that was
// interrupted is simply run again. Returns false with *error on failure.
bool migrate_leveldb_to_postgres(const std::string& leveldb_path, const std::string& conninfo,
                                 MigrationReport* report, std::string* error);

}  // namespace im
