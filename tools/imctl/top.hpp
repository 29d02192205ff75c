// `imctl top`: a refreshing view of the server and its busiest connections and users, computed
// from successive /admin/status and /admin/connections answers.
#pragma once

#include <cstdint>
#include <ostream>

#include "admin_api.hpp"

namespace imctl {

struct TopOptions {
  int64_t interval_ms = 1000;
  int64_t iterations = 0;  // 0: until interrupted
  bool json = false;       // one JSON object per line per refresh
  size_t rows = 10;        // connections and users shown
};

int run_top(const AdminApi& api, const TopOptions& options, std::ostream& out);

}  // namespace imctl
