#pragma once
// The actor side of the server as the network layer sees it: no CAF types cross this header.
// Runtime owns the actor system, the directory and the shared context.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/context.hpp"
#include "actors/inbox_writer.hpp"
#include "actors/session.hpp"

namespace im {

class Directory;

// A handle to one connection actor, held by its session.
class ConnectionLink {
 public:
  virtual ~ConnectionLink() = default;
  // A decoded client frame.
  virtual void deliver(Inbound frame) = 0;
  // A WebSocket ping/pong arrived: counts as activity.
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

  // Appends inbox events atomically and pushes them to the users' online devices.
  void append_events(std::vector<InboxAppend> appends, AppendDone done = {}) {
    im::append_events(*context_, std::move(appends), std::move(done));
  }
  Context& context() { return *context_; }
  Counters& counters() { return counters_; }

  // Stops every actor; sessions must be closed first. Blocks until the actors are gone.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Counters counters_;
  std::unique_ptr<Context> context_;
};

}  // namespace im
