// imctl: the administrator's command-line client of the admin API (PROTOCOL.md section 8).
// This first version only checks health and prints metrics; the admin commands come with the
// admin API.

#include <iostream>
#include <string>

#include "client/client.hpp"

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:8080";
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--server" && i + 1 < argc) server = argv[++i];
    else if (command.empty()) command = arg;
  }
  if (command != "health" && command != "metrics") {
    std::cerr << "usage: imctl [--server HOST:PORT] health|metrics\n";
    return 2;
  }
  try {
    auto endpoint = imclient::parse_endpoint(server);
    auto res = imclient::http(endpoint, "GET", command == "health" ? "/healthz" : "/metrics");
    std::cout << res.body << (res.body.empty() || res.body.back() != '\n' ? "\n" : "");
    return res.status == 200 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "imctl: " << e.what() << "\n";
    return 3;
  }
}
