#pragma once
// `imserver migrate --from-leveldb DIR --to-postgres CONNINFO` (store/migrate.hpp).

namespace im {

// argv[0] is "migrate". Returns the process's exit code.
int run_migrate_command(int argc, char** argv);

}  // namespace im
