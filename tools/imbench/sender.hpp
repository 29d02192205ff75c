// The sending half shared by the direct and group scenarios: at most `window` sends without a
// send_ack, optionally paced to a rate, each cid acknowledged exactly once. Lives on its
// connection's thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "progress.hpp"
#include "stats.hpp"
#include "ws_client.hpp"

namespace imbench {

struct SenderConfig {
  std::string cid_prefix;  // cids are "<cid_prefix>-<i>"
  std::string to_json;     // the serialized "to" object: {"user":U} or {"group":G}
  int64_t messages = 0;
  int64_t window = 1;
  double rate_per_s = 0;   // 0: only the window paces
  std::string padding;     // the body's "text"
  // With a rate: where in its first interval this sender starts, in [0, 1). Spreading the senders'
  // phases evenly makes the aggregate a steady stream at the target rate instead of every sender
  // sending at the same instants (bursts that would measure queueing, not the server).
  double phase = 0;
};

class Sender {
 public:
  Sender(boost::asio::io_context& ioc, SenderConfig config, Progress* progress);

  // Starts sending on `client` (call on its thread).
  void start(WsClient& client);
  // Feeds a send_ack or an error frame that has a cid; returns true if it was one of ours.
  bool on_frame(const Frame& frame, WsClient& client);

  int64_t acked() const { return acked_count_; }
  int64_t sent() const { return sent_; }
  int64_t duplicate_acks() const { return duplicate_acks_; }
  int64_t missing_acks() const { return config_.messages - acked_count_; }
  const std::map<std::string, int64_t>& errors() const { return errors_; }
  Samples& ack_latency() { return ack_latency_; }

 private:
  void pump(WsClient& client);
  int64_t index_of(const std::string& cid) const;

  SenderConfig config_;
  Progress* progress_;
  boost::asio::steady_timer pacer_;
  bool pacer_armed_ = false;
  int64_t started_us_ = 0;
  int64_t sent_ = 0;
  int64_t acked_count_ = 0;
  int64_t duplicate_acks_ = 0;
  std::vector<int64_t> sent_at_us_;
  std::vector<uint8_t> acked_;
  std::map<std::string, int64_t> errors_;
  Samples ack_latency_;
};

}  // namespace imbench
