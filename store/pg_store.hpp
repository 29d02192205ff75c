#pragma once
// The Store on PostgreSQL (pg_store.cpp; docs/STORAGE.md says how it maps and why it is safe to
// share one database between processes).

#include <memory>
#include <string>

#include "store/store.hpp"

namespace im {

struct PgStoreOptions {
  std::string conninfo;               // a libpq connection string or postgresql:// URI
  int statement_timeout_ms = 10000;   // no statement (a lock wait included) runs longer
  size_t queue_max = 10000;           // writes waiting for the commit thread; past it refused (0: no limit)
};

// Connects, creates or upgrades the schema, and starts the commit thread. Null with *error set if
// the database cannot be reached or migrated.
std::unique_ptr<Store> open_pg_store(const PgStoreOptions& options, std::string* error);

}  // namespace im
