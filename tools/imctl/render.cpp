#include "render.hpp"

#include <algorithm>
#include <cstdio>

namespace imctl {

namespace {

bool is_number(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

}  // namespace

void print_table(std::ostream& out, const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto print_row = [&](const Row& r, bool is_header) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string& c = i < r.size() ? r[i] : std::string();
      std::string pad(width[i] - std::min(width[i], c.size()), ' ');
      bool right = !is_header && is_number(c);
      line += right ? pad + c : c + pad;
      if (i + 1 < width.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print_row(header, true);
  for (const auto& r : rows) print_row(r, false);
}

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string human_duration(int64_t s) {
  if (s < 0) s = 0;
  char buf[32];
  if (s >= 86400) std::snprintf(buf, sizeof buf, "%lldd %02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
  else if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh %02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
  else std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  return buf;
}

std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

void print_status(std::ostream& out, const nlohmann::json& s) {
  const auto& a = s.value("actors", nlohmann::json::object());
  std::vector<Row> rows = {
      {"uptime", human_duration(s.value("uptime_s", int64_t{0}))},
      {"connections", cell(s.value("connections", nlohmann::json()))},
      {"users online", cell(s.value("users_online", nlohmann::json()))},
      {"actors", "connection=" + cell(a.value("connection", nlohmann::json())) + " user=" +
                     cell(a.value("user", nlohmann::json())) + " group=" + cell(a.value("group", nlohmann::json()))},
      {"messages/s", cell(s.value("messages_per_s", nlohmann::json()))},
      {"messages total", cell(s.value("messages_total", nlohmann::json()))},
      {"store", human_bytes(s.value("store_bytes", uint64_t{0}))},
  };
  for (const auto& r : rows) {
    std::string label = r[0] + ":";
    out << label << std::string(16 - std::min<size_t>(15, label.size()), ' ') << r[1] << "\n";
  }
}

void print_connections(std::ostream& out, const nlohmann::json& answer, int64_t now_ms) {
  std::vector<Row> rows;
  for (const auto& c : answer.value("connections", nlohmann::json::array()))
    rows.push_back({cell(c["user"]), cell(c["device"]), cell(c["address"]), cell(c["transport"]),
                    cell(c["encoding"]), human_duration((now_ms - c.value("since", now_ms)) / 1000),
                    cell(c["frames_in"]), cell(c["frames_out"]), human_bytes(c.value("bytes_in", uint64_t{0})),
                    human_bytes(c.value("bytes_out", uint64_t{0})), cell(c["unacked"])});
  print_table(out, {"USER", "DEVICE", "ADDRESS", "TRANSPORT", "ENC", "AGE", "FRAMES_IN", "FRAMES_OUT", "BYTES_IN",
                    "BYTES_OUT", "UNACKED"},
              rows);
  out << "(" << rows.size() << " connection" << (rows.size() == 1 ? "" : "s") << ")\n";
}

void print_user(std::ostream& out, const nlohmann::json& u) {
  out << "user:           " << cell(u["user"]) << "\n";
  out << "online:         " << cell(u["online"]) << "\n";
  out << "inbox head:     " << cell(u["useq"]) << " (useq)\n";
  out << "dedup entries:  " << cell(u["dedup_entries"]) << "\n";
  if (u.contains("cached_events")) out << "cached events:  " << cell(u["cached_events"]) << "\n";
  out << "mailbox:        " << cell(u["mailbox"]) << (u.value("live", false) ? "" : " (no live actor)") << "\n";
  std::vector<Row> rows;
  for (const auto& d : u.value("devices", nlohmann::json::array()))
    rows.push_back({cell(d["device"]), cell(d["cursor"]), cell(d.value("cursor_stored", nlohmann::json())), cell(d["unacked"]),
                    cell(d["next_cseq"]), cell(d["held"])});
  if (rows.empty()) {
    out << "devices:        none connected\n";
    return;
  }
  out << "devices:\n";
  print_table(out, {"DEVICE", "CURSOR", "STORED", "UNACKED", "NEXT_CSEQ", "HELD"}, rows);
}

void print_group(std::ostream& out, const nlohmann::json& g) {
  out << "group:    " << cell(g["group"]) << "\n";
  out << "name:     " << cell(g["name"]) << "\n";
  out << "owner:    " << cell(g["owner"]) << "\n";
  out << "seq:      " << cell(g["seq"]) << "\n";
  std::vector<Row> rows;
  const auto cursors = g.value("read_cursors", nlohmann::json::object());
  for (const auto& m : g.value("members", nlohmann::json::array())) {
    auto key = m.dump();
    rows.push_back({key, cursors.contains(key) ? cell(cursors[key]) : "0"});
  }
  out << "members:  " << rows.size() << "\n";
  print_table(out, {"MEMBER", "READ_SEQ"}, rows);
}

}  // namespace imctl
