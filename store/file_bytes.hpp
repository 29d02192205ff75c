#pragma once
// Where uploaded files' bytes live (PROTOCOL.md section 3), behind Records.
//
// With LevelDB: one file per id under <data-dir>/files. Values of megabytes do not belong in an
// LSM tree, which would copy them again at every compaction.
// With PostgreSQL: in the database, a row next to the file's record, written in the same
// transaction. Every node that shares the database serves every file, and a backup of the
// database holds them.

#include <cstdint>
#include <optional>
#include <string>

namespace im {

struct FileStorage {
  bool in_store = false;  // PostgreSQL: the bytes are a record of the store
  std::string directory;  // otherwise: where they are files (<data-dir>/files)
  bool fsync = false;     // on disk: the file and its directory are fsync'd before the record is written
};

namespace files_on_disk {

// Writes `bytes` to <directory>/<id> through <id>.tmp and a rename, so that a crash never leaves
// a partial file under a real id. Returns an error text, or "" on success.
std::string write(const FileStorage& where, const std::string& id, const std::string& bytes);

// The `size` bytes of <directory>/<id>, or nullopt when the file is missing or shorter.
std::optional<std::string> read(const FileStorage& where, const std::string& id, uint64_t size);

// Removes <directory>/<id> (after its record could not be written).
void remove(const FileStorage& where, const std::string& id);

}  // namespace files_on_disk

}  // namespace im
