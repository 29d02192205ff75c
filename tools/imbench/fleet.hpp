// A set of authenticated WebSocket connections spread over an IoPool: connection i lives on
// pool.at(i) and comes from loopback source target.source(i + source_offset). Connects with a
// bounded number in flight, counts how many authenticated, and closes them all at the end.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io_pool.hpp"
#include "stats.hpp"
#include "target.hpp"
#include "ws_client.hpp"

namespace imbench {

// {"type":"auth","token":T,"device":D} serialized.
std::string auth_frame(const std::string& token, const std::string& device);

class Fleet {
 public:
  Fleet(IoPool& pool, Target target, uint64_t source_offset = 0, WriteMode write_mode = WriteMode::batched);

  // Called on connection i's thread before it connects: set its frame handler here.
  using Prepare = std::function<void(size_t i, WsClient& client)>;
  // Called on connection i's thread when it ends before close_all() asked it to.
  using EarlyClose = std::function<void(size_t i, int code)>;

  // Opens one connection per auth frame, at most `concurrency` connecting at once, each bounded by
  // `timeout_ms`; returns when every one authenticated or failed, or after `limit_s` (the rest
  // count as failed). `heartbeat_ms` > 0 pings at that interval, 0 at what auth_ok announces.
  void connect(const std::vector<std::string>& auth_frames, size_t concurrency, int64_t timeout_ms,
               int64_t heartbeat_ms, double limit_s, Prepare prepare, EarlyClose early_close = {});

  // Runs fn on connection i's thread.
  void post(size_t i, std::function<void(WsClient&)> fn);
  // Closes every connection cleanly and waits (at most `limit_s`) until all have ended.
  // Returns how many had not ended by then.
  size_t close_all(double limit_s);

  size_t size() const { return clients_.size(); }
  size_t authenticated() const { return authenticated_; }
  size_t failed() const { return failed_; }
  size_t closed_early() const { return closed_early_; }
  const std::string& first_error() const { return first_error_; }
  // If some connections failed: says so in `summary` (for `scenario`) and `data`, closes every
  // connection and returns true. Otherwise false.
  bool report_failures(const std::string& scenario, std::string& summary, nlohmann::json& data);
  double connect_seconds() const { return connect_seconds_; }
  Samples& connect_latency() { return connect_latency_; }
  // Sum of pongs over all connections; call only after the pool is stopped.
  uint64_t pongs() const;

 private:
  void launch(size_t i);
  void finished_connecting(size_t i, bool ok, const std::string& error, int64_t latency_us);

  IoPool& pool_;
  Target target_;
  uint64_t source_offset_;
  WriteMode write_mode_;
  std::vector<std::shared_ptr<WsClient>> clients_;
  std::vector<std::string> auth_frames_;
  int64_t timeout_ms_ = 0;
  int64_t heartbeat_ms_ = 0;
  Prepare prepare_;
  EarlyClose early_close_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> ended_{0};
  std::atomic<bool> closing_all_{false};
  std::atomic<size_t> closed_early_{0};
  std::mutex mutex_;  // guards the fields below and connect_latency_
  std::condition_variable changed_;
  size_t authenticated_ = 0;
  size_t failed_ = 0;
  std::string first_error_;
  double connect_seconds_ = 0;
  Samples connect_latency_;
};

}  // namespace imbench
