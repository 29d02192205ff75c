#pragma once
// What every session of one server shares (Beast chat-multi's shared_state): options, the
// runtime, accounts, the TLS context, a pool for blocking work, and the set of live sessions so
// that shutdown can close them all.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "actors/runtime.hpp"
#include "net/abuse_limits.hpp"
#include "net/blocking_pool.hpp"
#include "net/limits.hpp"
#include "net/message_rate.hpp"
#include "net/net_common.hpp"
#include "protocol/options.hpp"
#include "store/accounts.hpp"
#include "store/records.hpp"

namespace im::net {

// A session that the server can close at shutdown.
class Closable {
 public:
  virtual ~Closable() = default;
  // Called by SharedState::close_all under the registry lock, which the session's destructor
  // takes (leave()): it must not drop what may be the session's last reference on this thread.
  // The sessions hand their reference to a posted handler instead.
  virtual void close_for_shutdown() = 0;
  // Called the same way when the closes took too long (a client that does not read or does not
  // close its side): close the socket now, so that the connection's actor hears it ended.
  virtual void abort_for_shutdown() {}
};

class SharedState {
 public:
  SharedState(const ServerOptions& options, Runtime& runtime, Accounts& accounts, Records& records)
      : options(options), runtime(runtime), accounts(accounts), records(records),
        blocking(2, options.blocking_queue_max) {
    if (records.remote()) store_reads = std::make_unique<BlockingPool>(kStoreReadThreads, options.store_read_queue_max);
  }

  // Threads that wait on a remote store's reads for the HTTP API: waiting takes no CPU, and a few
  // let a slow read not hold up the others.
  static constexpr int kStoreReadThreads = 4;

  const ServerOptions options;
  Runtime& runtime;
  Accounts& accounts;
  Records& records;  // net/ reaches storage only through this
  std::unique_ptr<ssl::context> tls;  // set when a certificate is configured
  BlockingPool blocking;              // password hashing and other slow work; bounded queue
  // With a remote store (records.remote()): where HTTP requests that read it are handled, so that
  // no I/O thread waits for the database. Null otherwise: LevelDB's reads take microseconds.
  std::unique_ptr<BlockingPool> store_reads;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::atomic<bool> stopping{false};
  // Per-source limits and the admin status rate.
  ConnectionsPerAddress connections_per_address;  // live WebSocket/raw connections
  FailureWindow login_failures_by_user;
  FailureWindow login_failures_by_address;
  // Abuse limits (net/abuse_limits.hpp): what costs the server a hash or others an inbox event,
  // per client address or per user.
  RatePerKey registrations_by_address;
  RatePerKey group_creations_by_user;
  RatePerKey group_additions_by_user;
  RatePerKey friend_requests_by_user;
  MessageRate message_rate{started};

  void join(Closable* session) {
    std::lock_guard<std::mutex> lock(mutex_);
    sessions_.insert(session);
  }
  void leave(Closable* session) {
    std::lock_guard<std::mutex> lock(mutex_);
    sessions_.erase(session);
    if (sessions_.empty()) drained_.notify_all();
  }
  void close_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto* s : sessions_) s->close_for_shutdown();
  }
  void abort_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto* s : sessions_) s->abort_for_shutdown();
  }
  // Waits until every session left or the timeout passed.
  bool wait_drained(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return drained_.wait_for(lock, timeout, [this] { return sessions_.empty(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable drained_;
  std::unordered_set<Closable*> sessions_;
};

}  // namespace im::net
