#pragma once
// A whole server in one object: store, accounts, actors and listener, wired together. The
// imserver binary runs one; integration tests run one in-process on port 0.

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/options.hpp"

namespace im {

class Store;

class App {
 public:
  explicit App(ServerOptions options);
  ~App();

  // Opens the store under options.data_dir and starts listening. Returns the bound port.
  // Throws std::runtime_error on failure.
  uint16_t start();
  // Stops accepting, closes connections with 1001, stops the actors, flushes the store.
  void stop();

  const ServerOptions& options() const { return options_; }
  // The open store, between start() and stop(): tests hold its commit thread with a slow write.
  Store& store();

 private:
  struct Parts;
  ServerOptions options_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace im
