// Setting up the users a scenario needs: registration and login of many users at once over a few
// keep-alive HTTP connections (asynchronous, on the scenario's io pool), and group creation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io_pool.hpp"
#include "target.hpp"

namespace imbench {

struct BenchAccount {
  uint64_t user = 0;
  std::string username;
  std::string token;
};

// Registers and logs in users `<prefix>_0` .. `<prefix>_<count-1>` with `password`, over
// `lanes` keep-alive connections in parallel. Returns them in index order. Throws
// std::runtime_error on the first failed request, or when the whole setup exceeds `limit_s`.
std::vector<BenchAccount> register_users(IoPool& pool, const Target& target, const std::string& prefix,
                                         const std::string& password, size_t count, size_t lanes,
                                         int64_t request_timeout_ms, double limit_s);

// POST /api/groups as `owner` with every other account as member; returns the group id.
uint64_t create_group(const Target& target, const BenchAccount& owner, const std::vector<BenchAccount>& members,
                      const std::string& name);

// A short random name prefix for this run: "b<8 hex>".
std::string random_prefix();

}  // namespace imbench
