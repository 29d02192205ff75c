#pragma once
// Every tunable of PROTOCOL.md section 9, with its default. Plain data shared by all layers;
// tools/imserver fills it from flags and the config file.

#include <cstdint>
#include <string>

namespace im {

enum class PasswordHashCost { interactive, moderate, min };

struct ServerOptions {
  // Connection life (section 4).
  int64_t auth_timeout_ms = 30000;
  int64_t auth_reminder_ms = 5000;
  int64_t heartbeat_ms = 30000;
  int64_t idle_timeout_ms = 0;  // 0: three heartbeats
  // Delivery (sections 5 and 6).
  int64_t ack_timeout_ms = 5000;
  int64_t max_retries = 3;
  int64_t ack_window = 64;
  int64_t reorder_ms = 3000;
  int64_t recall_window_ms = 120000;
  int64_t max_devices = 8;
  int64_t dedup_retention_s = 86400;
  int64_t inbox_retention_days = 30;
  int64_t inbox_max_events = 10000;
  // Sizes.
  int64_t max_body_bytes = 16 * 1024;
  int64_t max_file_bytes = 10 * 1024 * 1024;
  int64_t max_frame_bytes = 1024 * 1024;
  int64_t max_http_body_bytes = 64 * 1024;  // JSON bodies (section 3)
  // Accounts and rates.
  int64_t token_ttl_s = 30LL * 24 * 3600;
  int64_t rate_sends_per_s = 100;
  int64_t rate_frames_per_s = 500;
  PasswordHashCost password_hash_cost = PasswordHashCost::interactive;
  // Process.
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::string data_dir = "./data";
  std::string admin_token;
  std::string admin_bind = "127.0.0.1";
  std::string tls_cert;
  std::string tls_key;
  bool fsync = false;
  std::string log_level = "info";
  // An HTTP request (or the first bytes of a connection) must arrive within this time.
  int64_t http_timeout_ms = 30000;
  int io_threads = 1;
  int actor_threads = 2;
  // Bounded per-session outbound queue (frames); a client that cannot keep up is disconnected.
  int64_t send_queue_frames = 1024;
  // How long a user actor with no devices stays alive before it is passivated.
  int64_t user_idle_ms = 60000;

  int64_t effective_idle_timeout_ms() const {
    return idle_timeout_ms > 0 ? idle_timeout_ms : 3 * heartbeat_ms;
  }
};

}  // namespace im
