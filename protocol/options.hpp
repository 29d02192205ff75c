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
  // How long an acknowledged cursor may live only in memory before it is written (0: write on
  // every ACK). A crash loses at most this much cursor progress: the device is sent those events
  // again, and drops them by useq (PROTOCOL.md section 6). Disconnects and shutdown write at once.
  int64_t cursor_flush_ms = 200;
  int64_t recall_window_ms = 120000;
  int64_t max_devices = 8;
  int64_t dedup_retention_s = 86400;
  // Users with up to this many cids in the store have them indexed in memory (store/dedup_index.hpp).
  int64_t dedup_index_max_cids = 10000;
  int64_t inbox_retention_days = 30;
  int64_t inbox_max_events = 10000;
  // How often the background sweeper deletes expired inbox events and dedup records (0: never;
  // otherwise also once shortly after start). See store/retention.hpp.
  int64_t sweep_interval_s = 3600;
  // Sizes.
  int64_t max_body_bytes = 16 * 1024;
  int64_t max_file_bytes = 10 * 1024 * 1024;
  int64_t max_frame_bytes = 1024 * 1024;
  int64_t max_http_body_bytes = 64 * 1024;  // JSON bodies (section 3)
  // Deepest nesting of arrays and objects in a frame or JSON body (section 1). The server walks
  // accepted values recursively, so this also bounds its stack use per value.
  int64_t max_nesting = 64;
  // Accounts and rates.
  int64_t token_ttl_s = 30LL * 24 * 3600;
  int64_t rate_sends_per_s = 100;
  int64_t rate_frames_per_s = 500;
  PasswordHashCost password_hash_cost = PasswordHashCost::interactive;
  // Per-source limits (0: no limit). Live WebSocket/raw-TCP connections from one client address;
  // failed logins per minute per username and per client address (brute force).
  int64_t max_connections_per_ip = 1000;
  int64_t login_attempts_per_min = 10;
  int64_t login_attempts_per_min_per_ip = 100;
  // Abuse limits (0: no limit), each a token bucket of one minute's worth: registrations per client
  // address (each costs an Argon2id hash); per user, group creations, users added to groups (each
  // addition puts an event in every member's inbox) and friend requests (PUT /api/friends).
  int64_t register_per_min_per_ip = 30;
  int64_t groups_per_min = 20;
  int64_t group_additions_per_min = 1000;
  int64_t friend_requests_per_min = 60;
  // Process.
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::string data_dir = "./data";
  std::string admin_token;
  // A file holding the admin token (surrounding whitespace ignored), read at start: unlike
  // --admin-token it does not show in the process list.
  std::string admin_token_file;
  std::string admin_bind = "127.0.0.1";
  std::string tls_cert;
  std::string tls_key;
  bool fsync = false;
  // Keep all state in this PostgreSQL database (a libpq conninfo or postgresql:// URI) instead of
  // LevelDB in data_dir; empty: LevelDB.
  std::string postgres;
  // PostgreSQL: writes waiting for the commit thread before further ones are refused (0: no
  // bound), and the longest any statement (a lock wait included) may run.
  int64_t store_queue_max = 10000;
  int64_t postgres_timeout_ms = 10000;
  std::string log_level = "info";
  // An HTTP request (or the first bytes of a connection) must arrive within this time.
  int64_t http_timeout_ms = 30000;
  int io_threads = 1;
  // Jobs queued or running on the blocking pool (password hashing, file I/O, history reads) before
  // further requests that need it get 503 unavailable (0: no bound).
  int64_t blocking_queue_max = 256;
  // PostgreSQL: HTTP requests queued or running on the store-read threads; 0: no bound.
  int64_t store_read_queue_max = 256;
  // Counter values (inbox heads, conversation and group sequence numbers) the store keeps in memory.
  int64_t counter_cache_entries = 100000;
  // 0: the usable CPUs left after the I/O threads and the store's commit thread, 1 to 8.
  int actor_threads = 0;
  // Bounded per-session outbound queue (frames); a client that cannot keep up is disconnected.
  int64_t send_queue_frames = 1024;
  // Bounded inbound queue: decoded client frames a session has handed to its connection actor
  // and the actor has not handled yet, by count and by bytes. When either is reached the session
  // stops reading its socket until the actor catches up (actors/inflow.hpp).
  int64_t inbound_queue_frames = 64;
  int64_t inbound_queue_bytes = 1024 * 1024;
  // One read turn of a connection on its I/O thread: at most this many bytes read and this many
  // frames handled, then the connection waits behind the thread's other work (fair turns).
  int64_t read_turn_bytes = 64 * 1024;
  int64_t read_turn_frames = 64;
  // SO_SNDBUF of every accepted connection, in bytes (the kernel doubles it); 0 leaves the kernel's
  // autotuning (up to net.ipv4.tcp_wmem's maximum). Bounds the kernel memory one slow client holds.
  int64_t socket_send_buffer_bytes = 0;
  // A closing WebSocket or raw TCP connection waits this long for its last writes (a client that
  // stopped reading) and, on a WebSocket, for the client's close frame; then it drops the TCP
  // connection.
  int64_t close_timeout_ms = 5000;
  // How long a user actor with no devices stays alive before it is passivated.
  int64_t user_idle_ms = 60000;
  // Groups (PROTOCOL.md sections 3, 6, 7).
  int64_t max_group_members = 5000;      // members of one group, the creator included
  int64_t max_group_name_bytes = 128;    // a group name is 1 to this many bytes
  int64_t group_idle_ms = 60000;         // how long an idle group actor stays in memory
  int64_t group_timeout_ms = 10000;      // how long a user actor or HTTP handler waits for a group actor
  int64_t read_count_interval_ms = 1000; // read_count pushes: at most one per message per interval
  int64_t read_count_window = 256;       // read_count pushes cover the newest this-many messages

  // Typing indicators (PROTOCOL.md section 7): at most one forwarded per sender and conversation
  // per this interval (the protocol's "one per second").
  int64_t typing_interval_ms = 1000;

  int64_t effective_idle_timeout_ms() const {
    return idle_timeout_ms > 0 ? idle_timeout_ms : 3 * heartbeat_ms;
  }
};

}  // namespace im
