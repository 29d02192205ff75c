#include "top.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "render.hpp"

namespace imctl {

namespace {

using json = nlohmann::json;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Identifies a connection across refreshes.
std::string connection_key(const json& c) {
  return c["address"].dump() + "|" + c["since"].dump() + "|" + c["user"].dump() + "|" + c["device"].dump();
}

struct Totals {
  uint64_t frames = 0;
  uint64_t bytes = 0;
};

std::string rate_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

int run_top(const AdminApi& api, const TopOptions& options, std::ostream& out) {
  std::map<std::string, Totals> previous;
  auto previous_time = std::chrono::steady_clock::now();
  bool clear = !options.json && isatty(STDOUT_FILENO);
  for (int64_t i = 0; options.iterations == 0 || i < options.iterations; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.interval_ms));
    auto status = api.get("/admin/status");
    auto answer = api.get("/admin/connections");
    auto now = std::chrono::steady_clock::now();
    auto now_wall = wall_ms();
    double elapsed_s = std::chrono::duration<double>(now - previous_time).count();
    previous_time = now;

    // Rates per connection: since the previous refresh, or over its life on the first one.
    json connections = json::array();
    std::map<std::string, Totals> current;
    for (auto c : answer.value("connections", json::array())) {
      Totals t{c.value("frames_in", uint64_t{0}) + c.value("frames_out", uint64_t{0}),
               c.value("bytes_in", uint64_t{0}) + c.value("bytes_out", uint64_t{0})};
      auto key = connection_key(c);
      current[key] = t;
      auto before = previous.find(key);
      double span = before != previous.end() ? elapsed_s
                                             : std::max(0.001, (now_wall - c.value("since", now_wall)) / 1000.0);
      Totals base = before != previous.end() ? before->second : Totals{};
      c["frames_per_s"] = (t.frames - std::min(t.frames, base.frames)) / std::max(span, 0.001);
      c["bytes_per_s"] = (t.bytes - std::min(t.bytes, base.bytes)) / std::max(span, 0.001);
      connections.push_back(std::move(c));
    }
    previous = std::move(current);
    std::sort(connections.begin(), connections.end(), [](const json& a, const json& b) {
      return a["frames_per_s"].get<double>() > b["frames_per_s"].get<double>();
    });

    // Users: their connections added up.
    std::map<uint64_t, json> by_user;
    for (const auto& c : connections) {
      if (!c["user"].is_number()) continue;
      auto& u = by_user[c["user"].get<uint64_t>()];
      if (u.is_null()) u = json{{"user", c["user"]}, {"connections", 0}, {"frames_per_s", 0.0}, {"bytes_per_s", 0.0}, {"unacked", 0}};
      u["connections"] = u["connections"].get<int>() + 1;
      u["frames_per_s"] = u["frames_per_s"].get<double>() + c["frames_per_s"].get<double>();
      u["bytes_per_s"] = u["bytes_per_s"].get<double>() + c["bytes_per_s"].get<double>();
      u["unacked"] = u["unacked"].get<uint64_t>() + c.value("unacked", uint64_t{0});
    }
    json users = json::array();
    for (auto& [id, u] : by_user) users.push_back(std::move(u));
    std::sort(users.begin(), users.end(), [](const json& a, const json& b) {
      return a["frames_per_s"].get<double>() > b["frames_per_s"].get<double>();
    });
    if (connections.size() > options.rows) connections.erase(connections.begin() + static_cast<long>(options.rows), connections.end());
    if (users.size() > options.rows) users.erase(users.begin() + static_cast<long>(options.rows), users.end());

    if (options.json) {
      out << json{{"status", status}, {"connections", connections}, {"users", users}}.dump() << "\n" << std::flush;
      continue;
    }
    if (clear) out << "\x1b[H\x1b[2J";
    auto actors = status.value("actors", json::object());
    out << "imserver  up " << human_duration(status.value("uptime_s", int64_t{0})) << "  connections "
        << cell(status["connections"]) << "  users online " << cell(status["users_online"]) << "  messages/s "
        << cell(status["messages_per_s"]) << "  store " << human_bytes(status.value("store_bytes", uint64_t{0}))
        << "\n\n";
    std::vector<Row> rows;
    for (const auto& c : connections)
      rows.push_back({cell(c["user"]), cell(c["device"]), cell(c["address"]), cell(c["transport"]),
                      rate_text(c["frames_per_s"].get<double>()), human_bytes(static_cast<uint64_t>(c["bytes_per_s"].get<double>())) + "/s",
                      cell(c["unacked"])});
    out << "busiest connections\n";
    print_table(out, {"USER", "DEVICE", "ADDRESS", "TRANSPORT", "FRAMES/S", "BYTES/S", "UNACKED"}, rows);
    rows.clear();
    for (const auto& u : users)
      rows.push_back({cell(u["user"]), cell(u["connections"]), rate_text(u["frames_per_s"].get<double>()),
                      human_bytes(static_cast<uint64_t>(u["bytes_per_s"].get<double>())) + "/s", cell(u["unacked"])});
    out << "\nbusiest users\n";
    print_table(out, {"USER", "CONNS", "FRAMES/S", "BYTES/S", "UNACKED"}, rows);
    out << std::flush;
  }
  return kOk;
}

}  // namespace imctl
