#pragma once
// Protocol error codes and close codes (PROTOCOL.md sections 3-5). The mapping from code to wire
// string and HTTP status lives in errors.cpp and nowhere else.

#include <string_view>

namespace im {

enum class Error {
  bad_request,
  unknown_type,
  auth_required,
  auth_failed,
  too_many_devices,
  too_large,
  no_such_user,
  no_such_group,
  not_member,
  blocked,
  rate_limited,
  seq_gap,
  forbidden,
  recall_expired,
  not_found,
  invalid,
  username_taken,
  bad_credentials,
  unauthorized,
  internal,
  unavailable,
};

std::string_view to_string(Error e);
int http_status(Error e);

// WebSocket close codes; raw TCP gets them as {"type":"close","code":N}.
namespace close_code {
constexpr int normal = 1000;
constexpr int going_away = 1001;  // server shutting down
constexpr int too_big = 1009;
constexpr int protocol_violation = 4000;
constexpr int auth_failed = 4001;
constexpr int auth_timeout = 4002;
constexpr int idle = 4003;
constexpr int kicked = 4004;
constexpr int ack_timeout = 4008;
}  // namespace close_code

}  // namespace im
