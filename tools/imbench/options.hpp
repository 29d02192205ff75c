// Every knob of imbench, with its default. Filled from the command line in main.cpp; each scenario
// reads the fields it needs. Every run is bounded: by counts and by `duration_s`.
#pragma once

#include <cstdint>
#include <string>

namespace imbench {

struct BenchOptions {
  std::string scenario;                 // idle, direct, group, churn, flood or floor
  std::string server = "127.0.0.1:8080";
  int64_t server_pid = 0;               // 0: the process listening on the server's port
  double duration_s = 60;               // hard bound on the measured phase of every scenario
  int threads = 1;                      // io_context threads (one io_context each)
  bool json = false;                    // one JSON line on stdout; the human summary goes to stderr
  int sources = 16;                     // loopback source addresses 127.0.0.1 .. 127.0.0.N
  int setup_concurrency = 32;           // keep-alive HTTP connections registering users
  int connect_concurrency = 256;        // WebSocket connects+auths in flight at once
  std::string password = "bench-password";
  std::string user_prefix;              // "" : a random one per run
  int64_t timeout_ms = 15000;           // one connect+auth, or one HTTP request
  bool write_batching = true;           // frames queued in one turn leave in one write (ws_client.hpp)
  // idle
  int64_t connections = 1000;
  int procs = 1;                        // worker processes for idle (each has its own fd limit)
  double hold_s = 5;                    // how long idle holds the connections after the RSS sample
  int64_t heartbeat_ms = 0;             // 0: what auth_ok announces
  // direct and group
  int64_t pairs = 100;
  int64_t messages = 1000;              // per sender
  int64_t window = 16;                  // sends in flight (not yet acknowledged) per sender
  double rate = 0;                      // messages per second over all senders; 0: as fast as the window allows
  int64_t body_bytes = 32;              // size of the text padding in each body
  int64_t members = 100;
  int64_t senders = 10;
  // floor --rate
  int relay_threads = 0;                // threads each send passes through inside the relay
  // churn
  int64_t lanes = 50;                   // connections cycling in parallel
  int64_t messages_per_connection = 3;
  int64_t max_cycles = 1000000;         // bound on connections opened by churn
  // flood
  int64_t flooders = 100;               // connections sending as fast as their sockets take it
  int64_t chatters = 100;               // connections chatting in pairs meanwhile (--rate over all)
  std::string flood_kind = "send";      // send, ping or wsping
  int64_t flood_batch = 64;             // frames a flooder queues each time its writes drained
};

}  // namespace imbench
