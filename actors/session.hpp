#pragma once
// The boundary between the network layer and the actors. The net layer implements Session for
// each socket; actors hold it weakly and never touch the socket. No CAF or Beast here.

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/codec.hpp"

namespace im {

class Session {
 public:
  virtual ~Session() = default;
  // Queues one frame for writing. Thread-safe and never blocks. `binary` selects a WebSocket
  // binary frame (MessagePack); raw TCP frames ignore it. When the bounded queue is full the
  // session closes itself: a client that cannot keep up is disconnected, its events stay in
  // its inbox.
  virtual void send_frame(std::shared_ptr<const std::string> payload, bool binary) = 0;
  // Sends the close (WebSocket close frame, or raw TCP {"type":"close"} frame) after the frames
  // already queued, then closes the socket. Idempotent.
  virtual void close(int code, const std::string& reason) = 0;
  // The connection actor handled a frame after the session had stopped reading because its
  // inbound queue was full (actors/inflow.hpp): read again. Thread-safe and never blocks.
  virtual void resume_reading() = 0;
};

// What the connection actor knows of its socket, for logs and the admin API.
struct SessionInfo {
  std::string address;    // peer IP
  std::string transport;  // "ws", "wss", "tcp", "tls"
};

// One decoded client frame, or why it could not be decoded.
struct Inbound {
  DecodeStatus status = DecodeStatus::malformed;
  std::shared_ptr<const nlohmann::json> frame;  // set when status is ok
  std::string message;
  Encoding encoding = Encoding::json;
  size_t bytes = 0;
};

}  // namespace im
