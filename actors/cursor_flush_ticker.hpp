#pragma once
// One timer for every user actor's cursor flush (--cursor-flush-ms: a device's acknowledged
// cursor is written within that time, all of a user's dirty cursors in one write; PROTOCOL.md
// section 10). An actor whose device cursors moved asks once; within one period every actor that
// asked gets one cursor_flush_atom, and an actor asks again only after its flush. The timer runs
// only while someone waits, so an idle server has none.
//
// Why not a delayed_send per actor: with 1,000 busy users that was 5,000 timers a second, and
// each arm woke CAF's clock thread (a futex wake and two context switches, which this project's
// VMs price at several microseconds, measured with imbench). Thread-safe; no CAF in here.

#include <cstdint>
#include <memory>

namespace caf {
class actor;
class actor_system;
}  // namespace caf

namespace im {

class CursorFlushTicker {
 public:
  CursorFlushTicker(caf::actor_system& system, int64_t period_ms);
  ~CursorFlushTicker();
  CursorFlushTicker(const CursorFlushTicker&) = delete;
  CursorFlushTicker& operator=(const CursorFlushTicker&) = delete;

  // `actor` gets one cursor_flush_atom within period_ms. The caller asks at most once per flush
  // (UserState::cursor_flush_armed); asking twice sends two.
  void request(const caf::actor& actor);
  // Stops the timer's actor; later requests are dropped. Called once, before the actor system
  // waits for its actors (Runtime::shutdown), since the timer's actor would otherwise be waited on.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace im
