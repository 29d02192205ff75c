// The admin API's way into the actors (PROTOCOL.md section 8): a short-lived bridging actor asks
// the connection or user actors, each request with a timeout, and hands the answers to a plain
// callback. HTTP handlers call these from I/O threads and never wait.

#include <spdlog/spdlog.h>

#include "actors/directory.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"

namespace im {

namespace {

// Asks every target `args...`, collects the replies of type Reply (a target that fails or times
// out is left out), calls done(replies) once, then quits.
template <class Reply, class... Args>
void ask_all(caf::actor_system& system, std::vector<caf::actor> targets, std::chrono::milliseconds timeout,
             std::function<void(std::vector<Reply>)> done, Args... args) {
  if (targets.empty()) {
    done({});
    return;
  }
  system.spawn([targets = std::move(targets), timeout, done = std::move(done),
                args...](caf::event_based_actor* self) mutable {
    auto replies = std::make_shared<std::vector<Reply>>();
    auto pending = std::make_shared<size_t>(targets.size());
    auto finish = std::make_shared<std::function<void(std::vector<Reply>)>>(std::move(done));
    auto one_done = [self, replies, pending, finish] {
      if (--*pending > 0) return;
      (*finish)(std::move(*replies));
      self->quit();
    };
    for (auto& target : targets)
      self->request(target, timeout, args...)
          .then([replies, one_done](Reply& reply) {
                  replies->push_back(std::move(reply));
                  one_done();
                },
                [one_done](caf::error&) { one_done(); });
  });
}

}  // namespace

void Runtime::inspect_connections(std::chrono::milliseconds timeout, SnapshotsDone done) {
  ask_all<std::string>(context_->system, context_->directory.connections().all(), timeout, std::move(done),
                       inspect_atom::value);
}

void Runtime::inspect_live_users(std::chrono::milliseconds timeout, SnapshotsDone done) {
  ask_all<std::string>(context_->system, context_->directory.all_users(), timeout, std::move(done),
                       inspect_atom::value);
}

void Runtime::inspect_user(UserId user, std::chrono::milliseconds timeout, SnapshotsDone done) {
  std::vector<caf::actor> targets;
  if (auto actor = context_->directory.find_user(user)) targets.push_back(actor);
  ask_all<std::string>(context_->system, std::move(targets), timeout, std::move(done), inspect_atom::value);
}

void Runtime::inspect_group(GroupId group, std::chrono::milliseconds timeout, SnapshotsDone done) {
  std::vector<caf::actor> targets;
  if (auto actor = context_->directory.find_group(group)) targets.push_back(actor);
  ask_all<std::string>(context_->system, std::move(targets), timeout, std::move(done), inspect_atom::value);
}

void Runtime::kick_user(UserId user, const std::string& device, std::chrono::milliseconds timeout,
                        std::function<void(uint64_t kicked)> done) {
  std::vector<caf::actor> targets;
  if (auto actor = context_->directory.find_user(user)) targets.push_back(actor);
  ask_all<uint64_t>(
      context_->system, std::move(targets), timeout,
      [done = std::move(done)](std::vector<uint64_t> kicked) { done(kicked.empty() ? 0 : kicked.front()); },
      admin_kick_atom::value, device);
}

size_t Runtime::connection_count() const { return context_->directory.connections().size(); }

size_t Runtime::users_online() const { return context_->directory.users_online(); }

std::vector<UserId> Runtime::online_users() const { return context_->directory.online_users(); }

}  // namespace im
