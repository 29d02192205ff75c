#include "protocol/ids.hpp"

namespace im {

Conv Conv::direct(UserId x, UserId y) {
  Conv c;
  c.kind = Kind::direct;
  c.a = x < y ? x : y;
  c.b = x < y ? y : x;
  return c;
}

Conv Conv::group(GroupId g) {
  Conv c;
  c.kind = Kind::group;
  c.a = g;
  return c;
}

std::string Conv::str() const {
  if (is_group()) return "g:" + std::to_string(a);
  return "u:" + std::to_string(a) + ":" + std::to_string(b);
}

std::optional<uint64_t> parse_decimal_u64(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<Conv> parse_conv(std::string_view text) {
  if (text.size() > 2 && text.substr(0, 2) == "g:") {
    auto g = parse_decimal_u64(text.substr(2));
    if (!g || *g == 0) return std::nullopt;
    return Conv::group(*g);
  }
  if (text.size() > 2 && text.substr(0, 2) == "u:") {
    auto rest = text.substr(2);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto a = parse_decimal_u64(rest.substr(0, colon));
    auto b = parse_decimal_u64(rest.substr(colon + 1));
    if (!a || !b || *a == 0 || *a >= *b) return std::nullopt;
    return Conv::direct(*a, *b);
  }
  return std::nullopt;
}

bool valid_device(std::string_view d) { return !d.empty() && d.size() <= 64; }
bool valid_cid(std::string_view c) { return !c.empty() && c.size() <= 64; }
bool valid_rid(std::string_view r) { return r.size() <= 64; }

bool valid_username(std::string_view name) {
  if (name.size() < 3 || name.size() > 32) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_password(std::string_view p) { return p.size() >= 8 && p.size() <= 128; }

}  // namespace im
