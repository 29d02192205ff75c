// imserver: parses flags, opens the store, starts the actors and the listener, and stops cleanly
// on SIGINT/SIGTERM (close WebSockets with 1001, flush LevelDB, exit 0).

#include <csignal>
#include <iostream>
#include <string>

#include <spdlog/spdlog.h>

#include "app.hpp"
#include "flags.hpp"
#include "migrate_command.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "migrate") return im::run_migrate_command(argc - 1, argv + 1);
  im::ServerOptions options;
  auto flags = im::parse_flags(argc, argv, options);
  if (flags.outcome == im::FlagsResult::Outcome::exit_ok) {
    std::cout << flags.message << "\n";
    return 0;
  }
  if (flags.outcome == im::FlagsResult::Outcome::exit_error) {
    std::cerr << "imserver: " << flags.message << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  if (options.password_hash_cost == im::PasswordHashCost::min)
    spdlog::warn("--password-hash-cost min: passwords are hashed with the cheapest Argon2id settings");

  // Block the stop signals before any thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  im::App app(options);
  uint16_t port;
  try {
    port = app.start();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  spdlog::info("imserver listening on {}:{} (data in {}{}{})", options.bind, port, options.data_dir,
               options.fsync ? ", fsync" : "", options.tls_cert.empty() ? "" : ", TLS");

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("signal {}: shutting down", signal);
  app.stop();
  spdlog::info("stopped");
  return 0;
}
