// imctl: the administrator's command-line client of the admin API (PROTOCOL.md section 8), in
// the style of redis-cli and ejabberdctl: human tables by default, --json for the raw answers.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "admin_api.hpp"
#include "client/client.hpp"
#include "render.hpp"
#include "top.hpp"

namespace {

using imctl::Failure;
using json = nlohmann::json;

const char* kUsage = R"(usage: imctl [--server URL|HOST:PORT] [--token T] [--json] COMMAND

Commands:
  status                          server summary: uptime, connections, users online, actors,
                                  messages/s, store size
  conns                           every connection: user, device, address, transport,
                                  encoding, age, frames and bytes in/out, unacknowledged pushes
  user ID                         one user: online, inbox head, devices (cursor, unacked,
                                  next_cseq, held sends), dedup entries, actor mailbox
  group ID                        one group: name, owner, members, seq, read cursors
  kick ID [--device D]            disconnect the user's devices (or one): `kicked` admin, 4004
  notice (--user ID | --group ID | --all) TEXT
                                  append a notice {"text": TEXT} to those users' inboxes
  top [--interval-ms N] [--iterations N]
                                  refreshing view of the busiest connections and users
                                  (N iterations, default until interrupted; interval 1000 ms)

Options:
  --server URL|HOST:PORT   default 127.0.0.1:8080; https://HOST:PORT for TLS
  --token T                admin token (default: $IMSERVER_ADMIN_TOKEN)
  --json                   print the server's JSON answer (top: one JSON object per refresh)
  -h, --help               this text

Exit codes:
  0  success
  1  the server answered with an error (no such user or group, bad request, server error)
  2  usage error (bad command line)
  3  cannot connect, or the admin API refused: no or wrong token (401/403), address not
     allowed by --admin-bind (403), or the admin API is off (server has no admin token)
)";

struct Args {
  std::string server = "127.0.0.1:8080";
  std::string token;
  bool json = false;
  std::optional<std::string> device, user, group;
  bool all = false;
  imctl::TopOptions top;
  std::vector<std::string> positional;
};

int64_t parse_number(const std::string& flag, const std::string& text, int64_t min) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v >= min) return v;
  } catch (const std::exception&) {
  }
  throw Failure(imctl::kUsage, flag + " needs a whole number of at least " + std::to_string(min) + ", not '" + text + "'");
}

// Digits only: a user or group id.
std::string id_arg(const std::string& what, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    throw Failure(imctl::kUsage, what + " must be a number, not '" + text + "'");
  return text;
}

Args parse_args(int argc, char** argv) {
  Args a;
  if (const char* env = std::getenv("IMSERVER_ADMIN_TOKEN")) a.token = env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw Failure(imctl::kUsage, arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") throw Failure(imctl::kOk, "");
    else if (arg == "--server") a.server = value();
    else if (arg == "--token") a.token = value();
    else if (arg == "--json") a.json = true;
    else if (arg == "--device") a.device = value();
    else if (arg == "--user") a.user = id_arg("--user", value());
    else if (arg == "--group") a.group = id_arg("--group", value());
    else if (arg == "--all") a.all = true;
    else if (arg == "--interval-ms") a.top.interval_ms = parse_number(arg, value(), 1);
    else if (arg == "--iterations") a.top.iterations = parse_number(arg, value(), 1);
    else if (arg.size() > 1 && arg[0] == '-') throw Failure(imctl::kUsage, "unknown option " + arg);
    else a.positional.push_back(arg);
  }
  if (a.positional.empty()) throw Failure(imctl::kUsage, "no command given");
  return a;
}

void expect_positionals(const Args& a, size_t n) {
  if (a.positional.size() != n)
    throw Failure(imctl::kUsage, a.positional[0] + " takes " + std::to_string(n - 1) + " argument" +
                                     (n == 2 ? "" : "s"));
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int run(const Args& a) {
  const auto& command = a.positional[0];
  static const std::vector<std::string> known = {"status", "conns", "user", "group", "kick", "notice", "top"};
  if (std::find(known.begin(), known.end(), command) == known.end())
    throw Failure(imctl::kUsage, "unknown command '" + command + "'");
  if (command != "kick" && a.device) throw Failure(imctl::kUsage, "--device goes with kick");
  if (command != "notice" && (a.user || a.group || a.all))
    throw Failure(imctl::kUsage, "--user, --group and --all go with notice");
  imctl::AdminApi api(imctl::parse_server(a.server), a.token);
  auto& out = std::cout;
  auto emit = [&](const json& answer, auto human) {
    if (a.json) out << answer.dump(2) << "\n";
    else human(answer);
    return imctl::kOk;
  };
  if (command == "status") {
    expect_positionals(a, 1);
    return emit(api.get("/admin/status"), [&](const json& j) { imctl::print_status(out, j); });
  }
  if (command == "conns") {
    expect_positionals(a, 1);
    return emit(api.get("/admin/connections"), [&](const json& j) { imctl::print_connections(out, j, wall_ms()); });
  }
  if (command == "user") {
    expect_positionals(a, 2);
    auto id = id_arg("user ID", a.positional[1]);
    return emit(api.get("/admin/users/" + id), [&](const json& j) { imctl::print_user(out, j); });
  }
  if (command == "group") {
    expect_positionals(a, 2);
    auto id = id_arg("group ID", a.positional[1]);
    return emit(api.get("/admin/groups/" + id), [&](const json& j) { imctl::print_group(out, j); });
  }
  if (command == "kick") {
    expect_positionals(a, 2);
    auto id = id_arg("user ID", a.positional[1]);
    json body = json::object();
    if (a.device) body["device"] = *a.device;
    return emit(api.post("/admin/users/" + id + "/kick", body), [&](const json& j) {
      auto n = j.value("kicked", uint64_t{0});
      out << "kicked " << n << " connection" << (n == 1 ? "" : "s") << "\n";
    });
  }
  if (command == "notice") {
    expect_positionals(a, 2);
    if ((a.user ? 1 : 0) + (a.group ? 1 : 0) + (a.all ? 1 : 0) != 1)
      throw Failure(imctl::kUsage, "notice needs exactly one of --user ID, --group ID, --all");
    json body{{"body", {{"text", a.positional[1]}}}};
    if (a.user) body["user"] = std::stoull(*a.user);
    if (a.group) body["group"] = std::stoull(*a.group);
    if (a.all) body["all"] = true;
    return emit(api.post("/admin/notice", body), [&](const json& j) {
      auto n = j.value("delivered", uint64_t{0});
      out << "delivered to " << n << " user" << (n == 1 ? "" : "s") << "\n";
    });
  }
  expect_positionals(a, 1);  // top
  auto options = a.top;
  options.json = a.json;
  return imctl::run_top(api, options, out);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_args(argc, argv));
  } catch (const Failure& f) {
    if (f.code == imctl::kOk) {
      std::cout << kUsage;
      return imctl::kOk;
    }
    std::cerr << "imctl: " << f.what() << "\n";
    if (f.code == imctl::kUsage) std::cerr << "run 'imctl --help' for usage\n";
    return f.code;
  } catch (const std::exception& e) {
    std::cerr << "imctl: " << e.what() << "\n";
    return imctl::kServerError;
  }
}
