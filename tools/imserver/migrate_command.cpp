#include "migrate_command.hpp"

#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "store/migrate.hpp"

namespace im {

int run_migrate_command(int argc, char** argv) {
  CLI::App app("Copies a stopped imserver's LevelDB store into an empty PostgreSQL database, then checks the "
               "copy. Run it again after an interruption.",
               "imserver migrate");
  std::string from, to;
  app.add_option("--from-leveldb", from, "the stopped server's --data-dir (or its db/ directory)")->required();
  app.add_option("--to-postgres", to, "libpq conninfo or postgresql:// URI of the target database")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  std::error_code ec;
  if (std::filesystem::exists(from + "/db/CURRENT", ec)) from += "/db";
  MigrationReport report;
  std::string error;
  if (!migrate_leveldb_to_postgres(from, to, &report, &error)) {
    std::cerr << "imserver migrate: " << error << "\n";
    return 1;
  }
  std::cout << "migrated " << report.records << " records, " << report.counters << " counters and " << report.files
            << " files from " << from << (report.resumed ? " (resumed an earlier run)" : "") << "; "
            << report.sampled << " records and every file read back and identical\n";
  if (report.missing_files > 0)
    std::cout << report.missing_files << " recorded file(s) had no bytes in the data directory and were not copied\n";
  return 0;
}

}  // namespace im
