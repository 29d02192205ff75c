#pragma once
// The integration suite on PostgreSQL. CTest runs every integration test a second time as
// pg_<name>, with IMTEST_POSTGRES set to the conninfo of a private server (scripts/postgres, started
// and removed by the `postgres` fixture); the servers these tests start then keep their state
// there instead of LevelDB.

#include <string>

namespace imtest {

// Whether this run is on PostgreSQL.
bool on_postgres();

// On PostgreSQL: the conninfo of a database of its own for the server whose data directory is
// `data_dir`, created on first use, so that a server restarted on that directory finds its state
// again. Empty otherwise.
std::string postgres_for(const std::string& data_dir);

// A PostgreSQL server of one test's own (scripts/postgres in a fresh temporary directory), for
// tests that stop and start it or need a database nobody else writes; removed when this goes away.
class PrivatePostgres {
 public:
  PrivatePostgres();  // initdb and start
  ~PrivatePostgres();
  void stop();   // a fast shutdown: sessions are ended, what was committed stays
  void start();  // again, on the same data
  // SIGSTOP and SIGCONT of the server and its backends: connections stay open and nothing answers,
  // as with a database host that hangs.
  void pause();
  void resume();
  // The conninfo of database `name`, created if missing.
  std::string database(const std::string& name);

 private:
  void script(const std::string& action);
  void signal_all(int signal);
  std::string dir_;
  bool paused_ = false;
};

}  // namespace imtest
