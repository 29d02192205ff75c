#include "accounts.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "client/http.hpp"
#include "stats.hpp"

namespace imbench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

namespace {

// What all lanes share: the next index to take, the results, the first error, completion.
struct Setup {
  Target target;
  std::string prefix, password;
  size_t count = 0;
  int64_t timeout_ms = 0;
  std::atomic<size_t> next{0};
  std::vector<BenchAccount> accounts;
  std::mutex mutex;
  std::condition_variable done_cv;
  size_t lanes_running = 0;
  std::string error;
  std::atomic<bool> failed{false};

  void lane_done(const std::string& lane_error) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!lane_error.empty() && error.empty()) {
      error = lane_error;
      failed = true;
    }
    if (--lanes_running == 0) done_cv.notify_all();
  }
};

// One keep-alive connection registering and logging in users one after the other.
class Lane : public std::enable_shared_from_this<Lane> {
 public:
  Lane(asio::io_context& ioc, std::shared_ptr<Setup> setup, uint64_t n)
      : stream_(ioc), setup_(std::move(setup)), n_(n) {}

  void run() { take_next(); }

 private:
  void take_next() {
    if (setup_->failed) return setup_->lane_done("");
    index_ = setup_->next++;
    if (index_ >= setup_->count) return setup_->lane_done("");
    json body = {{"username", setup_->prefix + "_" + std::to_string(index_)}, {"password", setup_->password}};
    request("/api/register", body.dump(), &Lane::on_registered);
  }

  void on_registered() {
    if (response_.result_int() != 201)
      return setup_->lane_done("register " + std::to_string(index_) + ": HTTP " +
                               std::to_string(response_.result_int()) + " " + response_.body());
    json body = {{"username", setup_->prefix + "_" + std::to_string(index_)}, {"password", setup_->password}};
    request("/api/login", body.dump(), &Lane::on_logged_in);
  }

  void on_logged_in() {
    auto answer = json::parse(response_.body(), nullptr, false);
    if (response_.result_int() != 200 || !answer.is_object() || !answer.contains("token"))
      return setup_->lane_done("login " + std::to_string(index_) + ": HTTP " +
                               std::to_string(response_.result_int()) + " " + response_.body());
    auto& account = setup_->accounts[index_];
    account.user = answer["user"].get<uint64_t>();
    account.username = setup_->prefix + "_" + std::to_string(index_);
    account.token = answer["token"].get<std::string>();
    take_next();
  }

  // Sends POST `path` on the open connection (opening one first if needed), reads the answer into
  // response_ and calls `then`.
  void request(const std::string& path, std::string body, void (Lane::*then)()) {
    request_ = {http::verb::post, path, 11};
    request_.set(http::field::host, setup_->target.host_header);
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
    request_.body() = std::move(body);
    request_.prepare_payload();
    then_ = then;
    stream_.expires_after(std::chrono::milliseconds(setup_->timeout_ms));
    if (connected_) return write();
    try {
      bind_source(stream_.socket(), setup_->target.source(n_));
    } catch (const std::exception& e) {
      return setup_->lane_done(std::string("bind: ") + e.what());
    }
    stream_.async_connect(setup_->target.server, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->setup_->lane_done("connect: " + ec.message());
      self->connected_ = true;
      self->write();
    });
  }

  void write() {
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->setup_->lane_done("HTTP write: " + ec.message());
      self->response_ = {};
      http::async_read(self->stream_, self->buffer_, self->response_,
                       [self](beast::error_code read_ec, size_t) { self->on_read(read_ec); });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) return setup_->lane_done("HTTP read: " + ec.message());
    if (!response_.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      stream_.close();
      connected_ = false;
    }
    (this->*then_)();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::shared_ptr<Setup> setup_;
  uint64_t n_;
  size_t index_ = 0;
  bool connected_ = false;
  void (Lane::*then_)() = nullptr;
};

}  // namespace

std::vector<BenchAccount> register_users(IoPool& pool, const Target& target, const std::string& prefix,
                                         const std::string& password, size_t count, size_t lanes,
                                         int64_t request_timeout_ms, double limit_s) {
  auto setup = std::make_shared<Setup>();
  setup->target = target;
  setup->prefix = prefix;
  setup->password = password;
  setup->count = count;
  setup->timeout_ms = request_timeout_ms;
  setup->accounts.resize(count);
  lanes = std::max<size_t>(1, std::min(lanes, count));
  setup->lanes_running = lanes;
  for (size_t i = 0; i < lanes; ++i) {
    auto& ioc = pool.next();
    asio::post(ioc, [lane = std::make_shared<Lane>(ioc, setup, i)] { lane->run(); });
  }
  std::unique_lock<std::mutex> lock(setup->mutex);
  auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(limit_s * 1000));
  if (!setup->done_cv.wait_until(lock, deadline, [&] { return setup->lanes_running == 0; })) {
    setup->failed = true;
    throw std::runtime_error("registering " + std::to_string(count) + " users took longer than " +
                             std::to_string(limit_s) + " s");
  }
  if (!setup->error.empty()) throw std::runtime_error("user setup failed: " + setup->error);
  return setup->accounts;
}

uint64_t create_group(const Target& target, const BenchAccount& owner, const std::vector<BenchAccount>& members,
                      const std::string& name) {
  json ids = json::array();
  for (auto& m : members)
    if (m.user != owner.user) ids.push_back(m.user);
  imclient::Endpoint endpoint;
  endpoint.host = target.server.address().to_string();
  endpoint.port = target.server.port();
  auto response = imclient::http(endpoint, "POST", "/api/groups", json{{"name", name}, {"members", ids}}.dump(),
                                 owner.token, "application/json", std::chrono::seconds(30));
  auto answer = response.json();
  if (response.status != 201 || !answer.is_object() || !answer.contains("group"))
    throw std::runtime_error("POST /api/groups: HTTP " + std::to_string(response.status) + " " + response.body);
  return answer["group"].get<uint64_t>();
}

std::string random_prefix() {
  std::random_device rd;
  char text[16];
  std::snprintf(text, sizeof(text), "b%08x", static_cast<unsigned>(rd()));
  return text;
}

}  // namespace imbench
