// Internal: the one way this library reports failure.
#pragma once

#include <string>

namespace imclient::detail {

// Throws std::runtime_error with `what`.
[[noreturn]] void fail(const std::string& what);

}  // namespace imclient::detail
