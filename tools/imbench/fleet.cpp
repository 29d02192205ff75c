#include "fleet.hpp"

#include <boost/asio/post.hpp>
#include <condition_variable>

namespace imbench {

std::string auth_frame(const std::string& token, const std::string& device) {
  return nlohmann::json{{"type", "auth"}, {"token", token}, {"device", device}}.dump();
}

Fleet::Fleet(IoPool& pool, Target target, uint64_t source_offset, WriteMode write_mode)
    : pool_(pool), target_(std::move(target)), source_offset_(source_offset), write_mode_(write_mode) {}

void Fleet::connect(const std::vector<std::string>& auth_frames, size_t concurrency, int64_t timeout_ms,
                    int64_t heartbeat_ms, double limit_s, Prepare prepare, EarlyClose early_close) {
  auth_frames_ = auth_frames;
  timeout_ms_ = timeout_ms;
  heartbeat_ms_ = heartbeat_ms;
  prepare_ = std::move(prepare);
  early_close_ = std::move(early_close);
  clients_.clear();
  for (size_t i = 0; i < auth_frames_.size(); ++i) clients_.push_back(std::make_shared<WsClient>(pool_.at(i), write_mode_));
  auto start = Clock::now();
  size_t chains = std::max<size_t>(1, std::min(concurrency, clients_.size()));
  for (size_t c = 0; c < chains; ++c) {
    size_t i = next_++;
    if (i < clients_.size()) launch(i);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  auto deadline = start + std::chrono::milliseconds(static_cast<int64_t>(limit_s * 1000));
  changed_.wait_until(lock, deadline, [&] { return authenticated_ + failed_ >= clients_.size(); });
  connect_seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
  if (authenticated_ + failed_ < clients_.size()) {
    next_ = clients_.size();  // launch no more
    if (first_error_.empty()) first_error_ = "connecting took longer than the time bound";
    failed_ = clients_.size() - authenticated_;
  }
}

void Fleet::launch(size_t i) {
  boost::asio::post(pool_.at(i), [this, i] {
    auto& client = clients_[i];
    if (prepare_) prepare_(i, *client);
    client->set_close_handler([this, i](int code) {
      if (!closing_all_) {
        ++closed_early_;
        if (early_close_) early_close_(i, code);
      }
      std::lock_guard<std::mutex> lock(mutex_);
      ++ended_;
      changed_.notify_all();
    });
    auto began = now_us();
    client->start(target_, target_.source(i + source_offset_), auth_frames_[i],
                  std::chrono::milliseconds(timeout_ms_),
                  [this, i, began](bool ok, const std::string& error, const nlohmann::json& auth_ok) {
                    if (ok) {
                      int64_t interval = heartbeat_ms_ > 0 ? heartbeat_ms_ : auth_ok.value("heartbeat_ms", int64_t(30000));
                      clients_[i]->start_heartbeat(std::chrono::milliseconds(interval));
                    }
                    finished_connecting(i, ok, error, now_us() - began);
                  });
  });
}

void Fleet::finished_connecting(size_t i, bool ok, const std::string& error, int64_t latency_us) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (ok) {
      ++authenticated_;
      connect_latency_.add(latency_us);
    } else {
      ++failed_;
      ++ended_;  // a failed connection never reaches the close handler
      if (first_error_.empty()) first_error_ = "connection " + std::to_string(i) + ": " + error;
    }
    changed_.notify_all();
  }
  size_t next = next_++;
  if (next < clients_.size()) launch(next);
}

void Fleet::post(size_t i, std::function<void(WsClient&)> fn) {
  boost::asio::post(pool_.at(i), [client = clients_[i], fn = std::move(fn)] { fn(*client); });
}

size_t Fleet::close_all(double limit_s) {
  closing_all_ = true;
  for (size_t i = 0; i < clients_.size(); ++i) post(i, [](WsClient& c) { c.close(); });
  std::unique_lock<std::mutex> lock(mutex_);
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(limit_s * 1000));
  changed_.wait_until(lock, deadline, [&] { return ended_ >= clients_.size(); });
  return clients_.size() - std::min(clients_.size(), ended_.load());
}

uint64_t Fleet::pongs() const {
  uint64_t total = 0;
  for (auto& c : clients_) total += c->pongs();
  return total;
}

bool Fleet::report_failures(const std::string& scenario, std::string& summary, nlohmann::json& data) {
  if (failed() == 0) return false;
  summary = scenario + ": " + std::to_string(failed()) + " connections failed: " + first_error();
  data["error"] = first_error();
  close_all(10);
  return true;
}

}  // namespace imbench
