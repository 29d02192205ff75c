#pragma once
// The way out to one authenticated connection's socket, shared by its connection actor and its
// user actor, so that a push goes from the user actor straight to the session instead of through
// the connection actor's mailbox (one actor hop less per frame).
// Thread-safe; no CAF.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/session.hpp"
#include "protocol/codec.hpp"

namespace im {

struct Counters;

class Outlet {
 public:
  using Text = std::shared_ptr<const std::string>;

  Outlet(std::weak_ptr<Session> session, Encoding encoding, Counters& counters);

  // Queues a frame (serialized JSON) on the socket, transcoded to the connection's encoding.
  // Until open(), frames are held, so that nothing overtakes auth_ok; after shut(), dropped.
  void send(const Text& json_text);
  // The connection actor sent auth_ok: release the held frames, in order, and pass from now on.
  void open();
  // The connection is closing: drop every later frame.
  void shut();

  uint64_t frames_out() const { return frames_out_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  void write(const Text& json_text);

  const std::weak_ptr<Session> session_;
  const Encoding encoding_;
  Counters& counters_;
  std::atomic<uint64_t> frames_out_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::mutex mutex_;
  enum class Gate { held, open, shut } gate_ = Gate::held;
  std::vector<Text> held_;
};

}  // namespace im
