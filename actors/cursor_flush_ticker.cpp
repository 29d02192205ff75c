#include "actors/cursor_flush_ticker.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <mutex>
#include <vector>

#include "actors/messages.hpp"

namespace im {

namespace {

using tick_atom = caf::atom_constant<caf::atom("flushtick")>;

// The actors waiting for the next tick, shared by the requesters and the timer's actor.
struct Waiting {
  std::mutex mutex;
  std::vector<caf::actor> actors;
  bool armed = false;    // a tick is on its way; cleared when the tick takes the list
  bool stopped = false;  // requests are dropped
};

// Sends cursor_flush_atom to every actor waiting when a tick arrives.
caf::behavior ticker(caf::event_based_actor* self, std::shared_ptr<Waiting> waiting) {
  return {
      [=](tick_atom) {
        std::vector<caf::actor> due;
        {
          std::lock_guard<std::mutex> lock(waiting->mutex);
          due.swap(waiting->actors);
          waiting->armed = false;
        }
        for (auto& actor : due) self->send(actor, cursor_flush_atom::value);
      },
  };
}

}  // namespace

struct CursorFlushTicker::Impl {
  std::shared_ptr<Waiting> waiting = std::make_shared<Waiting>();
  caf::actor timer;  // set once, before any request
  std::chrono::milliseconds period{1};
};

CursorFlushTicker::CursorFlushTicker(caf::actor_system& system, int64_t period_ms)
    : impl_(std::make_unique<Impl>()) {
  impl_->period = std::chrono::milliseconds(std::max<int64_t>(1, period_ms));
  impl_->timer = system.spawn(ticker, impl_->waiting);
}

CursorFlushTicker::~CursorFlushTicker() { stop(); }

void CursorFlushTicker::request(const caf::actor& actor) {
  bool arm = false;
  {
    auto& waiting = *impl_->waiting;
    std::lock_guard<std::mutex> lock(waiting.mutex);
    if (waiting.stopped) return;
    waiting.actors.push_back(actor);
    arm = !waiting.armed;
    waiting.armed = true;
  }
  // The first request of a period starts the period's timer.
  if (arm) caf::delayed_anon_send(impl_->timer, impl_->period, tick_atom::value);
}

void CursorFlushTicker::stop() {
  {
    auto& waiting = *impl_->waiting;
    std::lock_guard<std::mutex> lock(waiting.mutex);
    if (waiting.stopped) return;
    waiting.stopped = true;
    waiting.actors.clear();
  }
  caf::anon_send_exit(impl_->timer, caf::exit_reason::user_shutdown);
}

}  // namespace im
