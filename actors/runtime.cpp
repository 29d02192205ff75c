#include "actors/runtime.hpp"

#include <sched.h>

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

#include "actors/connection_actor.hpp"
#include "actors/cursor_flush_ticker.hpp"
#include "actors/directory.hpp"
#include "actors/inflow.hpp"
#include "actors/messages.hpp"

namespace im {

namespace {

class ActorLink final : public ConnectionLink {
 public:
  ActorLink(caf::actor actor, std::shared_ptr<Inflow> inflow) : actor_(std::move(actor)), inflow_(std::move(inflow)) {}
  bool deliver(Inbound frame) override {
    bool room = inflow_->enter(frame.bytes);
    caf::anon_send(actor_, inbound_atom::value, std::move(frame));
    return room;
  }
  void activity() override { inflow_->touch(); }
  void closed() override { caf::anon_send(actor_, closed_atom::value); }

 private:
  caf::actor actor_;
  std::shared_ptr<Inflow> inflow_;
};

// The CPUs this process may run on (taskset, cpusets), not the host's.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// The CPUs are shared with the I/O threads and the store's commit thread, which are busy whenever
// the actors are. A worker beyond the free CPUs only adds context switches and CAF's idle
// polling: on 2 cores, one worker delivered 10-15% more than two (imbench direct). Capped, because a CPU quota (cgroups) does not show in the affinity mask.
constexpr int kMaxDefaultActorThreads = 8;

int actor_threads(const ServerOptions& options) {
  if (options.actor_threads > 0) return options.actor_threads;
  int free_cpus = usable_cpus() - std::max(1, options.io_threads) - 1;
  return std::clamp(free_cpus, 1, kMaxDefaultActorThreads);
}

caf::actor_system_config make_config(const ServerOptions& options) {
  caf::actor_system_config cfg;
  auto threads = actor_threads(options);
  if (options.actor_threads > 0) spdlog::info("{} actor thread(s) (--actor-threads)", threads);
  else spdlog::info("{} actor thread(s): {} usable CPU(s) less the I/O and commit threads", threads, usable_cpus());
  cfg.set("scheduler.max-threads", threads);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  return cfg;
}

}  // namespace

struct Runtime::Impl {
  explicit Impl(const ServerOptions& options) : config(make_config(options)), system(config) {}
  caf::actor_system_config config;
  caf::actor_system system;
  Directory directory;
};

Runtime::Runtime(const ServerOptions& options, Store& store, Accounts& accounts)
    : impl_(std::make_unique<Impl>(options)),
      dedup_index_(static_cast<size_t>(std::max<int64_t>(0, options.dedup_index_max_cids))),
      cursor_flush_(std::make_unique<CursorFlushTicker>(impl_->system, options.cursor_flush_ms)) {
  context_.reset(new Context{options, store, accounts, impl_->directory, counters_, impl_->system, dedup_index_,
                             *cursor_flush_});
  impl_->directory.bind(context_.get());
  // LevelDB write latency for /metrics; removed before the counters go away.
  store.set_write_observer([counters = &counters_](std::chrono::microseconds elapsed) {
    counters->store_write.observe(elapsed);
  });
}

Runtime::~Runtime() {
  shutdown();
  context_->store.set_write_observer({});
}

std::unique_ptr<ConnectionLink> Runtime::open_connection(std::weak_ptr<Session> session,
                                                         SessionInfo info,
                                                         std::chrono::steady_clock::time_point accepted,
                                                         bool announce_auth_required) {
  auto inflow = std::make_shared<Inflow>(context_->options.inbound_queue_frames,
                                         context_->options.inbound_queue_bytes);
  auto actor = spawn_connection_actor(*context_, std::move(session), std::move(info), accepted,
                                      announce_auth_required, inflow);
  return std::make_unique<ActorLink>(std::move(actor), std::move(inflow));
}

void Runtime::token_revoked(UserId user, const std::string& token_hash) {
  if (auto actor = impl_->directory.find_user(user))
    caf::anon_send(actor, logout_atom::value, token_hash);
}

bool Runtime::online(UserId user) const { return impl_->directory.online_devices(user) > 0; }

void Runtime::shutdown() {
  if (!impl_) return;
  for (auto& actor : impl_->directory.all_users()) caf::anon_send(actor, shutdown_atom::value);
  // Idle user actors wait for their passivation timer; stop them now.
  for (auto& actor : impl_->directory.all_users())
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  // Group actors too: an idle one would otherwise wait for its passivation timer.
  for (auto& actor : impl_->directory.all_groups())
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  cursor_flush_->stop();  // user actors write their cursors at shutdown_atom themselves
  impl_->system.await_all_actors_done();
  // Writes the actors queued last (cursors, devices, sends) call back into the context (the
  // directory, the counters) when they complete: wait for them while the context still exists.
  // Commits complete in order, so an empty one completes after every earlier one.
  context_->store.commit_and_wait([](Txn&) {});
}

}  // namespace im
