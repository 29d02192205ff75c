#pragma once
// A client's view of its inbox as PROTOCOL.md section 6 describes it: keep pushes whose useq is
// above the last one processed, acknowledge, and collect them in order.

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/connection.hpp"

namespace imtest {

class InboxReader {
 public:
  explicit InboxReader(imclient::Connection& conn, uint64_t last_useq = 0) : conn_(&conn), last_(last_useq) {}

  // Reads frames until `count` new inbox events were collected or `timeout` passed. Acknowledges
  // each new event when `ack` is set. Frames without a useq (send_ack, errors, pong) are kept in
  // others(). Returns whether `count` events arrived.
  bool collect(size_t count, std::chrono::milliseconds timeout, bool ack = true) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t wanted = events_.size() + count;
    while (events_.size() < wanted) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      auto frame = conn_->next(left);
      if (!frame) return false;
      if (!frame->contains("useq") || (*frame)["type"] == "auth_ok") {
        others_.push_back(*frame);
        continue;
      }
      auto useq = (*frame)["useq"].get<uint64_t>();
      ++pushes_;
      if (useq <= last_) {
        ++duplicates_dropped_;
        continue;
      }
      if (useq != last_ + 1) gaps_.push_back(useq);
      last_ = useq;
      events_.push_back(*frame);
      if (ack) conn_->send({{"type", "ack"}, {"useq", useq}});
    }
    return true;
  }

  const std::vector<nlohmann::json>& events() const { return events_; }
  const std::vector<nlohmann::json>& others() const { return others_; }
  // useqs that did not follow the previous one directly (must stay empty).
  const std::vector<uint64_t>& gaps() const { return gaps_; }
  uint64_t last_useq() const { return last_; }
  size_t pushes() const { return pushes_; }
  size_t duplicates_dropped() const { return duplicates_dropped_; }

 private:
  imclient::Connection* conn_;
  uint64_t last_;
  std::vector<nlohmann::json> events_;
  std::vector<nlohmann::json> others_;
  std::vector<uint64_t> gaps_;
  size_t pushes_ = 0;
  size_t duplicates_dropped_ = 0;
};

}  // namespace imtest
