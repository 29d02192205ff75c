// churn: L lanes, each a user whose device connects, authenticates, sends a few messages to the
// next lane's user, waits for their send_acks, acknowledges what was pushed to it and disconnects,
// over and over until the time (or cycle) bound. Measures connect+auth per second. Then each lane
// connects once more and drains its inbox, which checks that every acknowledged message reached
// its recipient (and its sender's echo) exactly once.

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sstream>
#include <unordered_set>

#include "accounts.hpp"
#include "fleet.hpp"
#include "scenario.hpp"

namespace imbench {

namespace {

using nlohmann::json;

struct ChurnShared {
  Target target;
  std::string prefix;
  int64_t per_connection = 0;
  int64_t timeout_ms = 0;
  WriteMode write_mode = WriteMode::batched;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> cycles_left{0};
  std::atomic<int64_t> auths{0};
  std::mutex mutex;
  std::condition_variable cv;
  size_t lanes_idle = 0;  // lanes that finished the current phase
  void lane_idle() {
    std::lock_guard<std::mutex> lock(mutex);
    ++lanes_idle;
    cv.notify_all();
  }
};

// One lane; all its members are touched only on its io thread (or after the phase barrier).
class Lane : public std::enable_shared_from_this<Lane> {
 public:
  Lane(boost::asio::io_context& ioc, ChurnShared& shared, size_t index, BenchAccount me, uint64_t peer)
      : ioc_(ioc), timer_(ioc), shared_(shared), index_(index), me_(std::move(me)), peer_(peer) {}

  size_t index() const { return index_; }

  void run() { next_cycle(); }
  // Connects once more and waits until `expected` distinct messages have arrived in all.
  void drain(size_t expected) {
    draining_ = true;
    expected_ = expected;
    connect();
  }

  int64_t sent = 0, acked = 0, duplicates = 0, filtered = 0, auth_failures = 0, ack_timeouts = 0, unexpected = 0;
  std::string first_error;
  Samples connect_latency;
  std::unordered_set<uint64_t> got;  // (sender lane, cycle, i) packed
  std::map<std::string, int64_t> errors;

 private:
  void next_cycle() {
    if (shared_.stop || shared_.cycles_left-- <= 0) return shared_.lane_idle();
    ++cycle_;
    acks_waiting_ = shared_.per_connection;
    connect();
  }

  void connect() {
    client_ = std::make_shared<WsClient>(ioc_, shared_.write_mode);
    auto self = shared_from_this();
    client_->set_frame_handler([self](const Frame& f) { self->on_frame(f); });
    client_->set_close_handler([self](int) { self->on_closed(); });
    json auth = {{"type", "auth"}, {"token", me_.token}, {"device", "churn"}, {"since", last_useq_}};
    auto began = now_us();
    client_->start(shared_.target, shared_.target.source(index_ + (++connections_) * 7), auth.dump(),
                   std::chrono::milliseconds(shared_.timeout_ms),
                   [self, began](bool ok, const std::string& error, const json&) { self->on_auth(ok, error, began); });
  }

  void on_auth(bool ok, const std::string& error, int64_t began) {
    if (!ok) {
      ++auth_failures;
      if (first_error.empty()) first_error = error;
      return draining_ ? shared_.lane_idle() : next_cycle();
    }
    connect_latency.add(now_us() - began);
    if (draining_) {
      arm_timer();
      return check_drained();
    }
    ++shared_.auths;
    arm_timer();
    for (int64_t i = 0; i < shared_.per_connection; ++i) {
      ++sent;
      client_->send(R"({"type":"send","cid":")" + shared_.prefix + "c" + std::to_string(index_) + "-" +
                    std::to_string(cycle_) + "-" + std::to_string(i) + R"(","to":{"user":)" + std::to_string(peer_) +
                    R"(},"body":{"l":)" + std::to_string(index_) + R"(,"c":)" + std::to_string(cycle_) + R"(,"i":)" +
                    std::to_string(i) + "}}");
    }
    if (acks_waiting_ == 0) client_->close();
  }

  void arm_timer() {
    timer_.expires_after(std::chrono::milliseconds(shared_.timeout_ms));
    timer_.async_wait([self = shared_from_this(), c = client_](boost::system::error_code ec) {
      if (ec || c != self->client_) return;
      if (!self->draining_) self->ack_timeouts += self->acks_waiting_;
      c->abort();
    });
  }

  void on_frame(const Frame& frame) {
    const auto& type = frame.type;
    if (type == "send_ack") {
      const auto& cid = frame.cid;
      auto mine = shared_.prefix + "c" + std::to_string(index_) + "-" + std::to_string(cycle_) + "-";
      if (cid.rfind(mine, 0) != 0) {
        ++unexpected;  // an ack of an earlier connection's send arriving now would be a duplicate
        return;
      }
      ++acked;
      if (--acks_waiting_ == 0) client_->close();
      if (acks_waiting_ < 0) ++duplicates;
      return;
    }
    if (type == "error") {
      ++errors[frame.code.empty() ? std::string("?") : frame.code];
      return;
    }
    if (type != "msg") return;
    auto useq = frame.useq;
    if (useq <= last_useq_) {
      ++filtered;
      return;
    }
    last_useq_ = useq;
    client_->ack(useq);
    auto field = [&](const char* name) { return static_cast<uint64_t>(frame.body_int(name, 0)); };
    auto key = (field("l") << 40) | (field("c") << 8) | field("i");
    if (!got.insert(key).second) ++duplicates;
    if (draining_) check_drained();
  }

  void check_drained() {
    if (got.size() >= expected_) client_->close();
  }

  void on_closed() {
    timer_.cancel();
    if (draining_) return shared_.lane_idle();
    // Let the close finish unwinding before the next connection starts.
    boost::asio::post(ioc_, [self = shared_from_this()] { self->next_cycle(); });
  }

  boost::asio::io_context& ioc_;
  boost::asio::steady_timer timer_;
  ChurnShared& shared_;
  size_t index_;
  BenchAccount me_;
  uint64_t peer_;
  std::shared_ptr<WsClient> client_;
  uint64_t last_useq_ = 0;
  int64_t cycle_ = 0;
  int64_t acks_waiting_ = 0;
  uint64_t connections_ = 0;
  bool draining_ = false;
  size_t expected_ = 0;
};

bool wait_lanes(ChurnShared& shared, size_t lanes, Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(shared.mutex);
  return shared.cv.wait_until(lock, deadline, [&] { return shared.lanes_idle >= lanes; });
}

}  // namespace

ScenarioResult run_churn(const RunContext& ctx) {
  auto& o = ctx.options;
  size_t lanes = static_cast<size_t>(o.lanes);
  if (lanes < 2) throw std::runtime_error("churn needs at least 2 lanes (each sends to the next)");
  IoPool pool(o.threads);
  auto accounts = register_users(pool, ctx.target, ctx.prefix, o.password, lanes, static_cast<size_t>(o.setup_concurrency),
                                 o.timeout_ms, std::max(60.0, o.duration_s));
  ChurnShared shared;
  shared.target = ctx.target;
  shared.prefix = ctx.prefix;
  shared.per_connection = o.messages_per_connection;
  shared.timeout_ms = o.timeout_ms;
  shared.write_mode = write_mode(o);
  shared.cycles_left = o.max_cycles;
  std::vector<std::shared_ptr<Lane>> all;
  for (size_t i = 0; i < lanes; ++i)
    all.push_back(std::make_shared<Lane>(pool.at(i), shared, i, accounts[i], accounts[(i + 1) % lanes].user));

  PhaseMeter meter(ctx);
  meter.start();
  auto started = Clock::now();
  for (auto& lane : all) boost::asio::post(pool.at(lane->index()), [lane] { lane->run(); });
  // The cycles stop at the time bound (or earlier at --max-cycles); the lanes then finish the
  // connection they are on.
  wait_lanes(shared, lanes, started + std::chrono::milliseconds(static_cast<int64_t>(o.duration_s * 1000)));
  shared.stop = true;
  bool settled = wait_lanes(shared, lanes, Clock::now() + std::chrono::milliseconds(o.timeout_ms + 5000));
  double wall = std::chrono::duration<double>(Clock::now() - started).count();
  auto phase = meter.stop();

  // Drain: each lane expects its own acked sends (echoes) and those of the lane before it.
  size_t drain_pending = 0;
  if (settled) {
    shared.lanes_idle = 0;
    for (size_t i = 0; i < lanes; ++i) {
      size_t expected = static_cast<size_t>(all[i]->acked + all[(i + lanes - 1) % lanes]->acked);
      boost::asio::post(pool.at(i), [lane = all[i], expected] { lane->drain(expected); });
    }
    if (!wait_lanes(shared, lanes, Clock::now() + std::chrono::milliseconds(o.timeout_ms + 5000))) drain_pending = 1;
  }
  pool.stop();

  int64_t sent = 0, acked = 0, duplicates = 0, filtered = 0, auth_failures = 0, ack_timeouts = 0, unexpected = 0;
  int64_t missing = 0;
  std::string first_error;
  std::map<std::string, int64_t> errors;
  Samples connect_latency;
  for (size_t i = 0; i < lanes; ++i) {
    auto& l = *all[i];
    sent += l.sent;
    acked += l.acked;
    duplicates += l.duplicates;
    filtered += l.filtered;
    auth_failures += l.auth_failures;
    ack_timeouts += l.ack_timeouts;
    unexpected += l.unexpected;
    connect_latency.merge(l.connect_latency);
    for (auto& [code, n] : l.errors) errors[code] += n;
    if (first_error.empty()) first_error = l.first_error;
    auto expected = static_cast<int64_t>(l.acked + all[(i + lanes - 1) % lanes]->acked);
    missing += std::max<int64_t>(0, expected - static_cast<int64_t>(l.got.size()));
  }
  auto auths = shared.auths.load();
  ScenarioResult result;
  auto& d = result.data;
  d = {{"scenario", "churn"}, {"lanes", o.lanes}, {"messages_per_connection", o.messages_per_connection},
       {"duration_s", o.duration_s}, {"wall_s", wall}, {"connects", auths},
       {"connects_per_s", wall > 0 ? static_cast<double>(auths) / wall : 0},
       {"connect_auth_latency_ms", connect_latency.summary_ms()}, {"sent", sent}, {"acked", acked},
       {"ack_timeouts", ack_timeouts}, {"auth_failures", auth_failures}, {"missing", missing},
       {"duplicates", duplicates}, {"retransmits_filtered", filtered}, {"unexpected", unexpected}, {"errors", errors},
       {"settled", settled && drain_pending == 0}, {"server_cpu_s", phase["server_cpu_s"]},
       {"server_threads_cpu_s", phase["server_threads_cpu_s"]}, {"bench_cpu_s", phase["bench_cpu_s"]}, {"server_counters", phase["server_counters"]},
       {"server_rss_kib", phase["server_rss_kib"]},
       {"loadavg_1m", phase["loadavg_1m"]}};
  if (!first_error.empty()) d["first_error"] = first_error;
  result.ok = settled && drain_pending == 0 && sent == acked && missing == 0 && duplicates == 0 && unexpected == 0 &&
              auth_failures == 0 && auths > 0;
  d["ok"] = result.ok;
  std::ostringstream s;
  s << "churn: " << o.lanes << " lanes, " << o.messages_per_connection << " messages per connection, " << o.duration_s
    << " s\n  " << thousands(static_cast<double>(auths)) << " connect+auth in " << wall << " s: "
    << thousands(d["connects_per_s"].get<double>()) << " /s; connect+auth " << describe_latency(d["connect_auth_latency_ms"])
    << "\n  sent " << sent << ", acked " << acked << ", missing after drain " << missing << ", duplicates " << duplicates
    << ", auth failures " << auth_failures << (first_error.empty() ? "" : " (" + first_error + ")") << ", unexpected "
    << unexpected << ", errors " << json(errors).dump() << "\n  " << describe_usage(phase) << "\n  " << (result.ok ? "OK" : "FAILED");
  result.summary = s.str();
  return result;
}

}  // namespace imbench
