#include "sender.hpp"

#include <cmath>

namespace imbench {

Sender::Sender(boost::asio::io_context& ioc, SenderConfig config, Progress* progress)
    : config_(std::move(config)),
      progress_(progress),
      pacer_(ioc),
      sent_at_us_(static_cast<size_t>(config_.messages), 0),
      acked_(static_cast<size_t>(config_.messages), 0) {}

void Sender::start(WsClient& client) {
  started_us_ = now_us();
  pump(client);
}

void Sender::pump(WsClient& client) {
  while (sent_ < config_.messages && sent_ - acked_count_ < config_.window) {
    if (config_.rate_per_s > 0) {
      // Message k may go at started + (k + phase) / rate.
      auto due_us =
          started_us_ + static_cast<int64_t>((static_cast<double>(sent_) + config_.phase) * 1e6 / config_.rate_per_s);
      auto now = now_us();
      if (due_us > now) {
        if (!pacer_armed_) {
          pacer_armed_ = true;
          pacer_.expires_after(std::chrono::microseconds(due_us - now));
          pacer_.async_wait([this, c = client.shared_from_this()](boost::system::error_code ec) {
            pacer_armed_ = false;
            if (!ec && !c->ended()) pump(*c);
          });
        }
        return;
      }
    }
    auto i = sent_++;
    auto t = now_us();
    sent_at_us_[static_cast<size_t>(i)] = t;
    std::string frame = R"({"type":"send","cid":")" + config_.cid_prefix + "-" + std::to_string(i) +
                        R"(","to":)" + config_.to_json + R"(,"body":{"i":)" + std::to_string(i) +
                        R"(,"t":)" + std::to_string(t) + R"(,"text":")" + config_.padding + R"("}})";
    client.send(std::move(frame));
  }
}

int64_t Sender::index_of(const std::string& cid) const {
  if (cid.size() <= config_.cid_prefix.size() + 1 || cid.compare(0, config_.cid_prefix.size(), config_.cid_prefix) != 0 ||
      cid[config_.cid_prefix.size()] != '-')
    return -1;
  char* end = nullptr;
  auto i = std::strtoll(cid.c_str() + config_.cid_prefix.size() + 1, &end, 10);
  if (!end || *end != '\0' || i < 0 || i >= config_.messages) return -1;
  return i;
}

bool Sender::on_frame(const Frame& frame, WsClient& client) {
  const auto& type = frame.type;
  if (type != "send_ack" && type != "error") return false;
  auto i = index_of(frame.cid);
  if (type == "error") {
    ++errors_[frame.code.empty() ? std::string("?") : frame.code];
    return i >= 0;
  }
  if (i < 0) return false;
  auto& flag = acked_[static_cast<size_t>(i)];
  if (flag) {
    ++duplicate_acks_;
    return true;
  }
  flag = 1;
  ++acked_count_;
  ack_latency_.add(now_us() - sent_at_us_[static_cast<size_t>(i)]);
  if (progress_) progress_->done_one();
  pump(client);
  return true;
}

}  // namespace imbench
