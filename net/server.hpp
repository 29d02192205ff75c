#pragma once
// The network side of imserver: one port, protocol sniffing, HTTP, WebSocket and raw TCP
// (PROTOCOL.md section 1). No Beast types cross this header, so tools and tests that start a
// server compile quickly.

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/options.hpp"

namespace im {

class Runtime;
class Accounts;
class Records;

class Server {
 public:
  // The server does not own runtime, accounts or store; they must outlive it.
  Server(const ServerOptions& options, Runtime& runtime, Accounts& accounts, Records& records);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds options.bind:options.port (0 picks a free port) and starts the I/O threads. Returns
  // the bound port; throws std::runtime_error if it cannot bind or load the TLS files.
  uint16_t start();

  // Stops accepting, closes every WebSocket with 1001 (raw TCP gets its close frame), waits
  // briefly for the closes to go out, and joins the I/O threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace im
