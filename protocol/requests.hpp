#pragma once
// Typed client requests (PROTOCOL.md sections 4, 5 and 7), validated from a decoded frame.
// A parser returns either the request or the error the client should get; it never throws.
// Frames come from decode_frame(), so they are nested at most max_nesting deep: parse_send dumps
// the body, which recurses once per level.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "protocol/errors.hpp"
#include "protocol/ids.hpp"

namespace im {

enum class RequestType { auth, ping, send, ack, read, typing, recall, sync, unknown };

RequestType request_type(const std::string& type);

// Where a send or typing goes.
struct Target {
  bool is_group = false;
  uint64_t id = 0;
};

struct AuthRequest {
  std::string token;
  std::string device;
  std::optional<uint64_t> since;
};

struct SendRequest {
  std::string cid;
  Target to;
  std::string body_json;  // the body object, serialized compactly (its size is what the limit checks)
  std::optional<uint64_t> cseq;
};

struct AckRequest { uint64_t useq = 0; };
struct ReadRequest { Conv conv; uint64_t seq = 0; };
struct TypingRequest { Target to; };
struct RecallRequest { Conv conv; uint64_t seq = 0; };
struct SyncRequest { uint64_t since = 0; };

// The outcome of validating one request: the value, or the error for the client.
template <class T>
struct Parsed {
  std::optional<T> value;
  Error error = Error::bad_request;
  std::string message;

  explicit operator bool() const { return value.has_value(); }
  static Parsed fail(Error e, std::string why) {
    Parsed p;
    p.error = e;
    p.message = std::move(why);
    return p;
  }
};

Parsed<AuthRequest> parse_auth(const nlohmann::json& frame);
Parsed<SendRequest> parse_send(const nlohmann::json& frame, uint64_t max_body_bytes);
Parsed<AckRequest> parse_ack(const nlohmann::json& frame);
Parsed<ReadRequest> parse_read(const nlohmann::json& frame);
Parsed<TypingRequest> parse_typing(const nlohmann::json& frame);
Parsed<RecallRequest> parse_recall(const nlohmann::json& frame);
Parsed<SyncRequest> parse_sync(const nlohmann::json& frame);

// The request's "rid" when it is a valid one (a string of at most 64 bytes).
std::optional<std::string> request_rid(const nlohmann::json& frame);

}  // namespace im
