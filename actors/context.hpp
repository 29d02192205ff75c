#pragma once
// What every actor of one server shares: options, the store, accounts and the directory.
// Owned by Runtime, which outlives every actor.

#include <atomic>
#include <cstdint>

#include "actors/latency_histogram.hpp"
#include "protocol/options.hpp"
#include "store/accounts.hpp"
#include "store/dedup_index.hpp"
#include "store/store.hpp"

namespace caf {
class actor_system;
}

namespace im {

class CursorFlushTicker;
class Directory;

// Counters the metrics endpoint and the admin API read. Relaxed atomics: they are statistics.
struct Counters {
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_authed{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> messages_accepted{0};
  std::atomic<uint64_t> deliveries{0};
  std::atomic<uint64_t> retransmits{0};
  // `gap` frames: a connected device's next events were gone (retention) when their turn came.
  std::atomic<uint64_t> inbox_gaps{0};
  std::atomic<uint64_t> ack_timeouts{0};
  std::atomic<uint64_t> dedup_hits{0};
  std::atomic<uint64_t> reorder_holds{0};
  std::atomic<uint64_t> inbox_appends{0};
  std::atomic<uint64_t> actors_connection{0};
  std::atomic<uint64_t> actors_user{0};
  std::atomic<uint64_t> actors_group{0};
  std::atomic<uint64_t> accept_fd_exhausted{0};
  // WebSocket writes the socket did not take whole at once: the rest waited for the client to read.
  std::atomic<uint64_t> socket_writes_blocked{0};
  // WebSocket connections closed with 1008 because more than send_queue_frames waited to be written.
  std::atomic<uint64_t> slow_client_closes{0};
  // Flood control (net/flood_guard.hpp, actors/inflow.hpp): frames over --rate-frames-per-s (a
  // WebSocket ping among them), sends over --rate-sends-per-s, and how often a session stopped
  // reading because its inbound queue was full.
  std::atomic<uint64_t> frames_rate_limited{0};
  std::atomic<uint64_t> sends_rate_limited{0};
  std::atomic<uint64_t> reads_paused{0};
  // Operations (issue 5): refusals by the limits, and latencies.
  std::atomic<uint64_t> connections_rejected_per_ip{0};
  std::atomic<uint64_t> login_rate_limited{0};
  // Registrations, group creations and additions, friend requests refused by their rate (issue 20).
  std::atomic<uint64_t> requests_rate_limited{0};
  // HTTP requests answered 503 because the blocking pool's queue was full (--blocking-queue-max).
  std::atomic<uint64_t> blocking_rejected{0};
  std::atomic<uint64_t> store_reads_rejected{0};  // HTTP requests refused by a full store-read pool
  // Retention (tools/imserver/sweeper.cpp): what the background sweeper deleted.
  std::atomic<uint64_t> inbox_events_expired{0};
  std::atomic<uint64_t> dedup_records_expired{0};
  std::atomic<uint64_t> sweeps{0};
  LatencyHistogram store_write;  // one LevelDB write (batch), observed by the store
  LatencyHistogram send_ack;     // a send applied -> its send_ack queued (durable in between)
};

struct Context {
  ServerOptions options;
  Store& store;
  Accounts& accounts;
  Directory& directory;
  Counters& counters;
  caf::actor_system& system;
  DedupIndex& dedup_index;
  CursorFlushTicker& cursor_flush;
};

}  // namespace im
