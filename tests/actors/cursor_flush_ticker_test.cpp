// CursorFlushTicker (actors/cursor_flush_ticker.hpp): one timer for every actor that asked for a
// cursor flush, armed only while someone waits.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <chrono>

#include "actors/cursor_flush_ticker.hpp"
#include "actors/messages.hpp"

using namespace std::chrono_literals;

namespace {

// Whether a cursor_flush_atom reaches `self` within `timeout`.
bool flushed(caf::scoped_actor& self, std::chrono::milliseconds timeout) {
  bool got = false;
  self->receive([&](im::cursor_flush_atom) { got = true; }, caf::after(timeout) >> [] {});
  return got;
}

}  // namespace

TEST_CASE("every actor that asked gets a cursor_flush; a request after the tick arms the timer again") {
  caf::actor_system_config config;
  caf::actor_system system{config};
  im::CursorFlushTicker ticker(system, 20);
  caf::scoped_actor a{system};
  caf::scoped_actor b{system};
  ticker.request(caf::actor_cast<caf::actor>(a));
  ticker.request(caf::actor_cast<caf::actor>(b));
  CHECK(flushed(a, 5s));
  CHECK(flushed(b, 5s));
  CHECK(a->mailbox().empty());  // one request, one flush
  ticker.request(caf::actor_cast<caf::actor>(a));
  CHECK(flushed(a, 5s));
}

TEST_CASE("after stop, requests are dropped and the actor system can shut down") {
  caf::actor_system_config config;
  caf::actor_system system{config};
  // A period long enough that the stop surely comes before the first tick.
  im::CursorFlushTicker ticker(system, 200);
  caf::scoped_actor a{system};
  ticker.request(caf::actor_cast<caf::actor>(a));  // waiting when stopped: dropped too
  ticker.stop();
  ticker.request(caf::actor_cast<caf::actor>(a));
  // Five periods: a tick armed before the stop would have come by now.
  CHECK_FALSE(flushed(a, 1000ms));
  ticker.stop();  // twice is harmless
}
