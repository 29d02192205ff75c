#pragma once
// An imserver running in this process on 127.0.0.1, port 0, with a fresh data directory that is
// removed afterwards. Options default to the server's own, with cheap password hashing; a test
// changes what it needs (timeouts in milliseconds) before start.

#include <functional>
#include <memory>
#include <string>

#include "app.hpp"
#include "store/store.hpp"
#include "client/client.hpp"

namespace imtest {

class TestServer {
 public:
  explicit TestServer(const std::function<void(im::ServerOptions&)>& configure = {});
  ~TestServer();

  // Stops the server and starts it again on the same data directory (a new port).
  void restart();
  void stop();

  imclient::Endpoint endpoint;
  im::ServerOptions options;
  im::App& app() { return *app_; }

  // The server's store (LevelDB or PostgreSQL, as options say), opened by the test while the
  // server is stopped: to seed or inspect records directly.
  std::unique_ptr<im::Store> open_store() const;

  // A fresh account with a unique name, logged in.
  imclient::Account account(const std::string& prefix = "user");

 private:
  std::unique_ptr<im::App> app_;
};

// A temporary directory, removed with everything in it when this goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Path of the imserver binary (from the IMSERVER_BIN environment variable set by CTest).
std::string imserver_binary();

}  // namespace imtest
