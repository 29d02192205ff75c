// GET /metrics in Prometheus text format: the runtime's counters and gauges.

#include <algorithm>
#include <cstdio>

#include "net/http_api.hpp"

namespace im::net {

namespace {

void line(std::string& out, const char* name, const char* type, const char* help, uint64_t value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

// A Prometheus histogram in seconds: cumulative buckets, +Inf, sum and count.
void histogram(std::string& out, const char* name, const char* help, const LatencyHistogram& h) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" histogram\n");
  uint64_t cumulative = 0;
  char le[32];
  for (size_t i = 0; i <= LatencyHistogram::kBoundsUs.size(); ++i) {
    cumulative += h.bucket(i);
    if (i < LatencyHistogram::kBoundsUs.size())
      std::snprintf(le, sizeof le, "%g", static_cast<double>(LatencyHistogram::kBoundsUs[i]) / 1e6);
    else
      std::snprintf(le, sizeof le, "+Inf");
    out.append(name).append("_bucket{le=\"").append(le).append("\"} ").append(std::to_string(cumulative)).append("\n");
  }
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(h.sum_us()) / 1e6);
  out.append(name).append("_sum ").append(sum).append("\n");
  out.append(name).append("_count ").append(std::to_string(h.count())).append("\n");
}

}  // namespace

bool route_metrics(RouteContext& ctx) {
  if (ctx.path.size() != 1 || ctx.path[0] != "metrics" || ctx.req.method() != http::verb::get) return false;
  auto& c = ctx.state->runtime.counters();
  std::string out;
  line(out, "imserver_connections_open", "gauge", "Open client connections (WebSocket and raw TCP).", c.connections_open);
  line(out, "imserver_connections_authenticated", "gauge", "Authenticated connections.", c.connections_authed);
  line(out, "imserver_auth_failures_total", "counter", "Failed auth attempts.", c.auth_failures);
  line(out, "imserver_frames_in_total", "counter", "Client frames received.", c.frames_in);
  line(out, "imserver_frames_out_total", "counter", "Server frames sent.", c.frames_out);
  line(out, "imserver_bytes_in_total", "counter", "Client frame bytes received.", c.bytes_in);
  line(out, "imserver_bytes_out_total", "counter", "Server frame bytes sent.", c.bytes_out);
  line(out, "imserver_messages_accepted_total", "counter", "Messages stored and acknowledged.", c.messages_accepted);
  line(out, "imserver_deliveries_total", "counter", "Inbox events pushed to devices.", c.deliveries);
  line(out, "imserver_retransmits_total", "counter", "Inbox events pushed again after an ACK timeout.", c.retransmits);
  line(out, "imserver_inbox_gaps_total", "counter", "gap frames: a device's next inbox events were dropped by retention before they were pushed.", c.inbox_gaps);
  line(out, "imserver_ack_timeouts_total", "counter", "Connections closed with 4008.", c.ack_timeouts);
  line(out, "imserver_dedup_hits_total", "counter", "Sends answered from the dedup record.", c.dedup_hits);
  line(out, "imserver_reorder_holds_total", "counter", "Sends held back for an earlier cseq.", c.reorder_holds);
  line(out, "imserver_inbox_appends_total", "counter", "Inbox events appended.", c.inbox_appends);
  line(out, "imserver_socket_writes_blocked_total", "counter", "WebSocket writes the socket did not take at once (a client reading slower than it is sent to).", c.socket_writes_blocked);
  line(out, "imserver_slow_client_closes_total", "counter", "WebSocket and raw TCP connections closed with 1008: more than --send-queue-frames frames waited for the client to read.", c.slow_client_closes);
  line(out, "imserver_frames_rate_limited_total", "counter", "Client frames (WebSocket pings included) over --rate-frames-per-s: not decoded, answered rate_limited (a ping: no pong).", c.frames_rate_limited);
  line(out, "imserver_sends_rate_limited_total", "counter", "Sends over --rate-sends-per-s, answered rate_limited.", c.sends_rate_limited);
  line(out, "imserver_reads_paused_total", "counter", "Times a connection stopped reading its socket because --inbound-queue-frames or --inbound-queue-bytes was reached.", c.reads_paused);
  line(out, "imserver_accept_fd_exhausted_total", "counter", "Accept failures for lack of file descriptors.", c.accept_fd_exhausted);
  line(out, "imserver_connections_rejected_per_ip_total", "counter", "Connections refused by --max-connections-per-ip.", c.connections_rejected_per_ip);
  line(out, "imserver_login_rate_limited_total", "counter", "Logins refused with 429 after too many failures.", c.login_rate_limited);
  line(out, "imserver_requests_rate_limited_total", "counter",
       "Registrations, group creations, group member additions and friend requests refused with 429.",
       c.requests_rate_limited);
  line(out, "imserver_blocking_rejected_total", "counter",
       "HTTP requests answered 503 because the blocking pool's queue was full.", c.blocking_rejected);
  line(out, "imserver_store_reads_rejected_total", "counter",
       "HTTP requests answered 503 because the store-read threads' queue was full (PostgreSQL).",
       c.store_reads_rejected);
  line(out, "imserver_blocking_jobs", "gauge", "Jobs queued or running on the blocking pool.",
       static_cast<uint64_t>(std::max<int64_t>(0, ctx.state->blocking.jobs())));
  line(out, "imserver_store_commits_queued", "gauge", "Store writes waiting for the commit thread.",
       ctx.state->records.queued_commits());
  line(out, "imserver_store_cached_counters", "gauge", "Counter values the store keeps in memory.",
       ctx.state->records.cached_counters());
  line(out, "imserver_inbox_events_expired_total", "counter", "Inbox events deleted by the sweeper (older than --inbox-retention-days).", c.inbox_events_expired);
  line(out, "imserver_dedup_records_expired_total", "counter", "Expired dedup records deleted by the sweeper.", c.dedup_records_expired);
  line(out, "imserver_sweeps_total", "counter", "Sweeps of expired inbox events and dedup records run (--sweep-interval-s).", c.sweeps);
  line(out, "imserver_store_write_errors_total", "counter", "Store writes that failed or were refused; /healthz answers 503 while the store cannot write.", ctx.state->records.write_errors());
  histogram(out, "imserver_store_write_seconds", "LevelDB write latency (one commit or group-commit batch, fsync included).", c.store_write);
  histogram(out, "imserver_send_ack_seconds", "From a send being applied to its send_ack (the durable write in between).", c.send_ack);
  out.append("# HELP imserver_actors Live actors by kind.\n# TYPE imserver_actors gauge\n");
  out.append("imserver_actors{kind=\"connection\"} ").append(std::to_string(c.actors_connection.load())).append("\n");
  out.append("imserver_actors{kind=\"user\"} ").append(std::to_string(c.actors_user.load())).append("\n");
  out.append("imserver_actors{kind=\"group\"} ").append(std::to_string(c.actors_group.load())).append("\n");
  Response res{http::status::ok, ctx.req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.keep_alive(ctx.req.keep_alive());
  res.body() = std::move(out);
  ctx.reply(std::move(res));
  return true;
}

}  // namespace im::net
