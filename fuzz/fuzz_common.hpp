#pragma once
// Shared by the libFuzzer targets (fuzz/README in docs/OPERATIONS.md, "Fuzzing"). A target
// reports a broken property by aborting, which libFuzzer records as a crash with its input.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocol/codec.hpp"
#include "protocol/frames.hpp"
#include "protocol/ids.hpp"
#include "protocol/requests.hpp"

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

namespace im::fuzz {

// The server's defaults (protocol/options.hpp): the limits the fuzzers run under.
constexpr size_t kMaxNesting = 64;
constexpr uint64_t kMaxBodyBytes = 16 * 1024;

// What the server does with a decoded frame, minus the actors: the connection actor's dispatch
// (actors/connection_actor.cpp), then for read/typing/recall the user actor's re-parse of the
// forwarded text (actors/user_requests.cpp), and the error frame in both encodings.
inline void exercise_requests(const nlohmann::json& frame) {
  auto rid = request_rid(frame);
  if (rid) FUZZ_CHECK(valid_rid(*rid));
  auto type = request_type(frame["type"].get<std::string>());
  switch (type) {
    case RequestType::auth: {
      auto p = parse_auth(frame);
      if (p) FUZZ_CHECK(valid_device(p.value->device) && !p.value->token.empty());
      break;
    }
    case RequestType::send: {
      auto p = parse_send(frame, kMaxBodyBytes);
      if (p) {
        FUZZ_CHECK(valid_cid(p.value->cid) && p.value->to.id != 0);
        FUZZ_CHECK(p.value->body_json.size() <= kMaxBodyBytes);
        // The stored body is read back by the store and the history API.
        auto body = nlohmann::json::parse(p.value->body_json, nullptr, false);
        FUZZ_CHECK(body.is_object());
      }
      break;
    }
    case RequestType::ack: (void)parse_ack(frame); break;
    case RequestType::sync: (void)parse_sync(frame); break;
    case RequestType::read:
    case RequestType::typing:
    case RequestType::recall: {
      auto text = frame.dump();
      auto again = nlohmann::json::parse(text, nullptr, false);
      FUZZ_CHECK(again == frame);
      if (type == RequestType::read) {
        if (auto p = parse_read(again)) FUZZ_CHECK(parse_conv(p.value->conv.str()) == p.value->conv);
      } else if (type == RequestType::recall) {
        if (auto p = parse_recall(again)) FUZZ_CHECK(p.value->seq != 0);
      } else {
        if (auto p = parse_typing(again)) FUZZ_CHECK(p.value->to.id != 0);
      }
      break;
    }
    case RequestType::ping:
    case RequestType::unknown:
      break;
  }
  auto error = frames::error(Error::bad_request, "x", rid);
  (void)encode_frame(error, Encoding::json);
  (void)encode_frame(error, Encoding::msgpack);
}

}  // namespace im::fuzz
