#include "flags.hpp"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <variant>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace im {

namespace {

using json = nlohmann::json;

// One tunable: its flag name (without dashes), where it goes, the smallest value it accepts, the
// name it had before, if any (still accepted as a flag and as a config key), and the largest value.
struct Flag {
  const char* name;
  std::variant<int64_t*, int*, std::string*, bool*> target;
  const char* help;
  int64_t min = 0;
  const char* former = nullptr;
  int64_t max = INT64_MAX;
};

std::vector<Flag> flag_table(ServerOptions& o, std::string& hash_cost) {
  return {
      {"auth-timeout-ms", &o.auth_timeout_ms, "close with 4002 when no valid auth arrives in this time", 1},
      {"auth-reminder-ms", &o.auth_reminder_ms, "resend auth_required this often", 1},
      {"heartbeat-ms", &o.heartbeat_ms, "heartbeat interval announced in auth_ok", 1},
      {"idle-timeout-ms", &o.idle_timeout_ms, "close with 4003 after this long without a frame (0: 3 x heartbeat, the default)", 0},
      {"ack-timeout-ms", &o.ack_timeout_ms, "resend an unacknowledged push after this long", 1},
      {"max-retries", &o.max_retries, "resends before closing with 4008", 0},
      {"ack-window", &o.ack_window, "unacknowledged pushes per device", 1},
      {"reorder-ms", &o.reorder_ms, "how long an early cseq is held", 1},
      {"cursor-flush-ms", &o.cursor_flush_ms, "longest an acknowledged cursor stays unwritten (0: write on every ack)", 0},
      {"recall-window-ms", &o.recall_window_ms, "how long a sender may recall a message", 0},
      {"max-devices", &o.max_devices, "connected devices per user", 1},
      {"max-body-bytes", &o.max_body_bytes, "largest message body (serialized)", 2},
      {"max-file-bytes", &o.max_file_bytes, "largest uploaded file", 1},
      {"max-frame-bytes", &o.max_frame_bytes, "largest WebSocket message or raw TCP frame", 16},
      {"max-http-body-bytes", &o.max_http_body_bytes, "largest JSON request body", 16},
      {"max-nesting", &o.max_nesting, "deepest nesting of arrays and objects in a frame or JSON body (1 to 1000)", 1,
       nullptr, 1000},
      {"dedup-retention-s", &o.dedup_retention_s, "how long a cid is remembered", 1},
      {"dedup-index-max-cids", &o.dedup_index_max_cids,
       "users with at most this many remembered cids skip the store read on new cids (0: nobody)", 0},
      {"inbox-retention-days", &o.inbox_retention_days, "inbox events older than this may be dropped", 1},
      {"inbox-max-events", &o.inbox_max_events, "events kept per inbox", 1},
      {"sweep-interval-s", &o.sweep_interval_s, "delete expired inbox events and dedup records this often (0: never)", 0},
      {"token-ttl-s", &o.token_ttl_s, "token lifetime", 1},
      {"rate-sends-per-s", &o.rate_sends_per_s, "sends per second per connection (bursts of twice that; 0: no limit)", 0},
      {"rate-frames-per-s", &o.rate_frames_per_s, "frames per second per connection (bursts of twice that; 0: no limit)", 0},
      {"max-connections-per-ip", &o.max_connections_per_ip, "live WebSocket/raw TCP connections per client address (0: no limit)", 0},
      {"login-attempts-per-min", &o.login_attempts_per_min, "failed logins per username per minute before 429 (0: no limit)", 0},
      {"login-attempts-per-min-per-ip", &o.login_attempts_per_min_per_ip, "failed logins per client address per minute before 429 (0: no limit)", 0},
      {"register-per-min-per-ip", &o.register_per_min_per_ip, "registrations per client address per minute before 429 (0: no limit)", 0},
      {"groups-per-min", &o.groups_per_min, "groups one user may create per minute before 429 (0: no limit)", 0},
      {"group-additions-per-min", &o.group_additions_per_min,
       "users one user may add to groups per minute before 429 (0: no limit)", 0},
      {"friend-requests-per-min", &o.friend_requests_per_min, "friend requests per user per minute before 429 (0: no limit)", 0},
      {"password-hash-cost", &hash_cost, "interactive (default), moderate or min", 0},
      {"port", &o.port, "TCP port (0 picks a free one)", 0},
      {"bind", &o.bind, "address to listen on", 0},
      {"data-dir", &o.data_dir, "where the LevelDB store and files live", 0},
      {"admin-token", &o.admin_token,
       "admin API token; visible in the process list, prefer --admin-token-file or IMSERVER_ADMIN_TOKEN; "
       "without one the admin API is off", 0},
      {"admin-token-file", &o.admin_token_file, "file holding the admin API token (read at start)", 0},
      {"admin-bind", &o.admin_bind, "the only client address the admin routes answer (0.0.0.0: any)", 0},
      {"tls-cert", &o.tls_cert, "PEM certificate chain; with --tls-key turns TLS on", 0},
      {"tls-key", &o.tls_key, "PEM private key", 0},
      {"fsync", &o.fsync, "make every acknowledged write survive power loss (group commit)", 0},
      {"postgres", &o.postgres,
       "keep all state in this PostgreSQL database (libpq conninfo or postgresql:// URI) instead of LevelDB", 0},
      {"store-queue-max", &o.store_queue_max,
       "PostgreSQL: writes waiting for the commit thread before more are refused with unavailable (0: no bound)", 0},
      {"postgres-timeout-ms", &o.postgres_timeout_ms,
       "PostgreSQL: the longest one statement, a lock wait included, may run", 100},
      {"log-level", &o.log_level, "trace, debug, info, warn or error", 0},
      {"http-timeout-ms", &o.http_timeout_ms, "an HTTP request must arrive within this time", 1},
      {"io-threads", &o.io_threads, "network threads", 1},
      {"blocking-queue-max", &o.blocking_queue_max,
       "jobs queued or running on the blocking pool before requests that need it get 503 (0: no bound)", 0},
      {"store-read-queue-max", &o.store_read_queue_max,
       "PostgreSQL: HTTP requests queued or running on the store-read threads before more get 503 (0: no bound)", 0},
      {"counter-cache-entries", &o.counter_cache_entries, "counter values the store keeps in memory (LRU)", 1},
      {"actor-threads", &o.actor_threads,
       "actor scheduler threads (0: the usable CPUs not taken by the I/O and commit threads, 1 to 8)", 0},
      {"send-queue-frames", &o.send_queue_frames, "frames queued per connection before a slow client is dropped", 1},
      {"inbound-queue-frames", &o.inbound_queue_frames,
       "decoded frames per connection waiting for its actor before the server stops reading the socket", 1},
      {"inbound-queue-bytes", &o.inbound_queue_bytes,
       "bytes of those frames before the server stops reading the socket", 1},
      {"read-turn-bytes", &o.read_turn_bytes, "bytes one connection may read per turn on its I/O thread", 1024},
      {"read-turn-frames", &o.read_turn_frames, "frames one connection may hand on per turn on its I/O thread", 1},
      {"socket-send-buffer-bytes", &o.socket_send_buffer_bytes,
       "SO_SNDBUF of client connections (0: the kernel's autotuning)", 0},
      {"close-timeout-ms", &o.close_timeout_ms,
       "how long a closing WebSocket or raw TCP connection waits for its last writes (and the client's close)", 1,
       "ws-close-timeout-ms"},
      {"user-idle-ms", &o.user_idle_ms, "how long a user actor without devices stays in memory", 1},
      {"typing-interval-ms", &o.typing_interval_ms, "at most one typing forwarded per sender and conversation in this time", 0},
      {"max-group-members", &o.max_group_members, "members of one group, the creator included", 1},
      {"max-group-name-bytes", &o.max_group_name_bytes, "longest group name", 1},
      {"group-idle-ms", &o.group_idle_ms, "how long an idle group actor stays in memory", 1},
      {"group-timeout-ms", &o.group_timeout_ms, "how long a request to a group actor may take", 1},
      {"read-count-interval-ms", &o.read_count_interval_ms, "at most one read_count push per message in this time", 1},
      {"read-count-window", &o.read_count_window, "read_count pushes cover this many newest messages of a group", 1},
  };
}

// Applies one config-file value; returns an error message or "".
std::string apply_json(const Flag& flag, const json& value) {
  std::string name = flag.name;
  return std::visit(
      [&](auto* target) -> std::string {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (!value.is_string()) return "config key \"" + name + "\" must be a string";
          *target = value.get<std::string>();
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!value.is_boolean()) return "config key \"" + name + "\" must be true or false";
          *target = value.get<bool>();
        } else {
          if (!value.is_number_integer()) return "config key \"" + name + "\" must be an integer";
          *target = static_cast<T>(value.get<int64_t>());
        }
        return "";
      },
      flag.target);
}

std::string check_min(const Flag& flag) {
  return std::visit(
      [&](auto* target) -> std::string {
        using T = std::remove_pointer_t<decltype(target)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, int>) {
          if (static_cast<int64_t>(*target) < flag.min)
            return std::string("--") + flag.name + " must be at least " + std::to_string(flag.min);
          if (static_cast<int64_t>(*target) > flag.max)
            return std::string("--") + flag.name + " must be at most " + std::to_string(flag.max);
        }
        return "";
      },
      flag.target);
}

}  // namespace

FlagsResult parse_flags(int argc, char** argv, ServerOptions& o) {
  FlagsResult result;
  std::string hash_cost = "interactive";
  std::string config_file;
  auto table = flag_table(o, hash_cost);
  CLI::App app{"imserver: instant-messaging server (WebSocket, raw TCP and HTTP on one port)"};
  app.set_version_flag("--version", "imserver 0.1.0");
  std::map<std::string, CLI::Option*> given;
  for (auto& flag : table) {
    std::string name = std::string("--") + flag.name;
    if (flag.former) name += std::string(",--") + flag.former;
    std::visit(
        [&](auto* target) {
          using T = std::remove_pointer_t<decltype(target)>;
          if constexpr (std::is_same_v<T, bool>) given[flag.name] = app.add_flag(name, *target, flag.help);
          else given[flag.name] = app.add_option(name, *target, flag.help)->capture_default_str();
        },
        flag.target);
  }
  app.add_option("--config", config_file, "JSON file with the same names as keys; flags win");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    result.outcome = FlagsResult::Outcome::exit_ok;
    result.message = app.help();
    return result;
  } catch (const CLI::CallForVersion&) {
    result.outcome = FlagsResult::Outcome::exit_ok;
    result.message = "imserver 0.1.0";
    return result;
  } catch (const CLI::ParseError& e) {
    result.outcome = FlagsResult::Outcome::exit_error;
    result.message = e.what();
    return result;
  }
  auto error = [&](std::string message) {
    result.outcome = FlagsResult::Outcome::exit_error;
    result.message = std::move(message);
    return result;
  };
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) return error("--config: cannot read " + config_file);
    std::stringstream text;
    text << in.rdbuf();
    auto config = json::parse(text.str(), nullptr, false);
    if (config.is_discarded() || !config.is_object())
      return error("--config: " + config_file + " is not a JSON object");
    for (auto& [key, value] : config.items()) {
      std::string name = key;
      std::replace(name.begin(), name.end(), '_', '-');
      auto flag = std::find_if(table.begin(), table.end(), [&](const Flag& f) {
        return name == f.name || (f.former && name == f.former);
      });
      if (flag == table.end()) return error("--config: unknown key \"" + key + "\"");
      if (given[flag->name]->count() > 0) continue;  // the flag wins
      if (auto problem = apply_json(*flag, value); !problem.empty()) return error("--config: " + problem);
    }
  }
  for (auto& flag : table)
    if (auto problem = check_min(flag); !problem.empty()) return error(problem);
  if (hash_cost == "interactive") o.password_hash_cost = PasswordHashCost::interactive;
  else if (hash_cost == "moderate") o.password_hash_cost = PasswordHashCost::moderate;
  else if (hash_cost == "min") o.password_hash_cost = PasswordHashCost::min;
  else return error("--password-hash-cost must be interactive, moderate or min, not \"" + hash_cost + "\"");
  static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(levels), std::end(levels), o.log_level) == std::end(levels))
    return error("--log-level must be trace, debug, info, warn or error, not \"" + o.log_level + "\"");
  if (o.tls_cert.empty() != o.tls_key.empty()) return error("--tls-cert and --tls-key go together");
  if (o.port > 65535) return error("--port must be at most 65535");
  // The admin token: --admin-token, or --admin-token-file, or the environment, in that order; the
  // first two together are a mistake worth stopping for.
  if (!o.admin_token_file.empty()) {
    if (!o.admin_token.empty()) return error("--admin-token and --admin-token-file: give one of them");
    std::ifstream in(o.admin_token_file);
    if (!in) return error("--admin-token-file: cannot read " + o.admin_token_file);
    std::stringstream text;
    text << in.rdbuf();
    auto token = text.str();
    auto first = token.find_first_not_of(" \t\r\n");
    auto last = token.find_last_not_of(" \t\r\n");
    if (first == std::string::npos) return error("--admin-token-file: " + o.admin_token_file + " is empty");
    o.admin_token = token.substr(first, last - first + 1);
  }
  if (o.admin_token.empty()) {
    if (const char* env = std::getenv("IMSERVER_ADMIN_TOKEN")) o.admin_token = env;
  }
  return result;
}

}  // namespace im
