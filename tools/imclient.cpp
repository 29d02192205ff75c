// imclient: drives a running imserver over real sockets with a script of steps (see --help).
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "client/script.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "imclient: runs a script of steps against an imserver over real sockets and prints every\n"
      "received frame as one JSON line.",
      "imclient"};
  std::string server = "127.0.0.1:8080";
  bool tls = false;
  bool raw_tcp = false;
  bool msgpack = false;
  bool verbose = false;
  unsigned timeout_ms = 5000;
  std::string script_path = "-";
  app.add_option("--server", server, "HOST:PORT of the server")->capture_default_str();
  app.add_flag("--tls", tls, "use TLS for every connection (certificate not verified)");
  app.add_flag("--tcp", raw_tcp, "connect with raw TCP frames instead of a WebSocket");
  app.add_flag("--msgpack", msgpack, "send WebSocket frames as MessagePack (binary frames)");
  app.add_option("--timeout-ms", timeout_ms,
                 "limit for connects, HTTP requests, auth, expect and closed")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3'600'000u));
  app.add_flag("-v,--verbose", verbose, "echo each step to stderr before running it");
  app.add_option("SCRIPT_FILE", script_path, "script file, or - for standard input")
      ->capture_default_str();
  app.footer("\n" + imclient::script_help());
  app.get_formatter()->column_width(30);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return imclient::script_usage;
  }
  if (raw_tcp && msgpack) {
    std::cerr
        << "imclient: --msgpack needs the WebSocket transport: raw TCP frames are always JSON\n";
    return imclient::script_usage;
  }

  imclient::ScriptSettings settings;
  try {
    settings.endpoint = imclient::parse_endpoint(server, tls);
  } catch (const std::exception& error) {
    std::cerr << "imclient: " << error.what() << "\n";
    return imclient::script_usage;
  }
  settings.transport = raw_tcp ? imclient::Transport::raw_tcp : imclient::Transport::websocket;
  settings.encoding = msgpack ? imclient::Encoding::msgpack : imclient::Encoding::json;
  settings.timeout = std::chrono::milliseconds(timeout_ms);
  settings.verbose = verbose;

  if (script_path == "-")
    return imclient::run_script(std::cin, "<stdin>", settings, std::cout, std::cerr);
  std::ifstream file(script_path);
  if (!file) {
    std::cerr << "imclient: cannot read script '" << script_path << "'\n";
    return imclient::script_usage;
  }
  return imclient::run_script(file, script_path, settings, std::cout, std::cerr);
}
