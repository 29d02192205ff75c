#pragma once
// The actor side of the server as the network layer sees it: no CAF types cross this header.
// Runtime owns the actor system, the directory and the shared context.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/context.hpp"
#include "actors/inbox_writer.hpp"
#include "actors/session.hpp"

namespace im {

class CursorFlushTicker;
class Directory;

// A handle to one connection actor, held by its session.
class ConnectionLink {
 public:
  virtual ~ConnectionLink() = default;
  // A decoded client frame. False when the inbound queue is full with it: the session reads
  // nothing more until its resume_reading() is called (actors/inflow.hpp).
  virtual bool deliver(Inbound frame) = 0;
  // A WebSocket ping/pong arrived: counts as activity (no actor message).
  virtual void activity() = 0;
  // The socket is gone; the actor detaches and stops. Call once.
  virtual void closed() = 0;
};

class Runtime {
 public:
  Runtime(const ServerOptions& options, Store& store, Accounts& accounts);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Spawns the connection actor of a new socket. With `announce_auth_required` (WebSocket) the
  // actor sends auth_required at once; raw TCP waits for the client's first frame.
  std::unique_ptr<ConnectionLink> open_connection(std::weak_ptr<Session> session, SessionInfo info,
                                                  std::chrono::steady_clock::time_point accepted,
                                                  bool announce_auth_required);

  // Kicks (reason "logout") every connection that authenticated with this token.
  void token_revoked(UserId user, const std::string& token_hash);

  bool online(UserId user) const;

  // Appends inbox events atomically and pushes them to the users' online devices. `extra`
  // (optional) adds more puts to the same atomic write (a record change and its events as one).
  void append_events(std::vector<InboxAppend> appends, AppendDone done = {},
                     std::function<void(Txn&)> extra = {}) {
    im::append_events(*context_, std::move(appends), std::move(done), std::move(extra));
  }
  Context& context() { return *context_; }

  // Admin API (PROTOCOL.md section 8, actors/admin_bridge.cpp): the actors' own live answers,
  // gathered by a short-lived actor, each request bounded by `timeout`. `done` runs once, on an
  // actor thread (or at once on the caller's when there is nothing to ask); never blocks.
  // Snapshots are JSON texts (actors/inspect.hpp); an actor that does not answer in time is
  // left out.
  using SnapshotsDone = std::function<void(std::vector<std::string> snapshots)>;
  void inspect_connections(std::chrono::milliseconds timeout, SnapshotsDone done);
  void inspect_live_users(std::chrono::milliseconds timeout, SnapshotsDone done);
  // One snapshot if the user's actor is live, none otherwise.
  void inspect_user(UserId user, std::chrono::milliseconds timeout, SnapshotsDone done);
  // One snapshot if the group's actor is live, none otherwise (its state is then all on disk).
  void inspect_group(GroupId group, std::chrono::milliseconds timeout, SnapshotsDone done);
  // `kicked` (reason admin) and 4004 to the user's connection of `device` ("" = all of them).
  void kick_user(UserId user, const std::string& device, std::chrono::milliseconds timeout,
                 std::function<void(uint64_t kicked)> done);
  size_t connection_count() const;
  size_t users_online() const;
  std::vector<UserId> online_users() const;
  Counters& counters() { return counters_; }

  // Stops every actor; sessions must be closed first. Blocks until the actors are gone.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Counters counters_;
  DedupIndex dedup_index_;
  std::unique_ptr<CursorFlushTicker> cursor_flush_;
  std::unique_ptr<Context> context_;
};

}  // namespace im
