#pragma once
// Identifiers of PROTOCOL.md section 2 and the validation rules for client-chosen strings.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace im {

using UserId = uint64_t;
using GroupId = uint64_t;

// A conversation: one-to-one ("u:A:B", A < B) or group ("g:G").
struct Conv {
  enum class Kind { direct, group } kind = Kind::direct;
  uint64_t a = 0;  // lower user id, or the group id
  uint64_t b = 0;  // higher user id; 0 for groups

  static Conv direct(UserId x, UserId y);
  static Conv group(GroupId g);
  bool is_group() const { return kind == Kind::group; }
  bool has_member(UserId u) const { return !is_group() && (a == u || b == u); }
  UserId peer_of(UserId u) const { return a == u ? b : a; }
  std::string str() const;
  friend bool operator==(const Conv& x, const Conv& y) {
    return x.kind == y.kind && x.a == y.a && x.b == y.b;
  }
};

// Accepts exactly the canonical forms: decimal without padding or sign, "u:A:B" with A < B.
std::optional<Conv> parse_conv(std::string_view text);

bool valid_device(std::string_view device);    // 1..64 bytes
bool valid_cid(std::string_view cid);          // 1..64 bytes
bool valid_rid(std::string_view rid);          // at most 64 bytes
bool valid_username(std::string_view name);    // 3..32 of [A-Za-z0-9_.-]
bool valid_password(std::string_view password);  // 8..128 bytes

// Parses a canonical unsigned decimal (no sign, no leading zeros, fits in 64 bits).
std::optional<uint64_t> parse_decimal_u64(std::string_view text);

}  // namespace im
