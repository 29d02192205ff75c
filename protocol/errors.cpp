#include "protocol/errors.hpp"

namespace im {

std::string_view to_string(Error e) {
  switch (e) {
    case Error::bad_request: return "bad_request";
    case Error::unknown_type: return "unknown_type";
    case Error::auth_required: return "auth_required";
    case Error::auth_failed: return "auth_failed";
    case Error::too_many_devices: return "too_many_devices";
    case Error::too_large: return "too_large";
    case Error::no_such_user: return "no_such_user";
    case Error::no_such_group: return "no_such_group";
    case Error::not_member: return "not_member";
    case Error::blocked: return "blocked";
    case Error::rate_limited: return "rate_limited";
    case Error::seq_gap: return "seq_gap";
    case Error::forbidden: return "forbidden";
    case Error::recall_expired: return "recall_expired";
    case Error::not_found: return "not_found";
    case Error::invalid: return "invalid";
    case Error::username_taken: return "username_taken";
    case Error::bad_credentials: return "bad_credentials";
    case Error::unauthorized: return "unauthorized";
    case Error::internal: return "internal";
    case Error::unavailable: return "unavailable";
  }
  return "internal";
}

int http_status(Error e) {
  switch (e) {
    case Error::bad_request:
    case Error::invalid:
    case Error::unknown_type: return 400;
    case Error::unauthorized:
    case Error::auth_required:
    case Error::auth_failed:
    case Error::bad_credentials: return 401;
    case Error::forbidden:
    case Error::not_member:
    case Error::blocked: return 403;
    case Error::not_found:
    case Error::no_such_user:
    case Error::no_such_group: return 404;
    case Error::username_taken: return 409;
    case Error::too_large: return 413;
    case Error::rate_limited: return 429;
    case Error::unavailable: return 503;
    default: return 500;
  }
}

}  // namespace im
