#include "store/keys.hpp"

namespace im::keys {

void put_u64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

uint64_t get_u64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

void put_conv(std::string& out, const Conv& c) {
  out.push_back(c.is_group() ? 1 : 0);
  put_u64(out, c.a);
  put_u64(out, c.b);
}

Conv get_conv(std::string_view in) {
  Conv c;
  c.kind = in[0] == 1 ? Conv::Kind::group : Conv::Kind::direct;
  c.a = get_u64(in.substr(1));
  c.b = get_u64(in.substr(9));
  return c;
}

namespace {
std::string with_prefix(char p) { return std::string(1, p); }
std::string with_user(char p, UserId u) {
  auto k = with_prefix(p);
  put_u64(k, u);
  return k;
}
}  // namespace

std::string counter_next_user_id() { return {kCounter, kNextUserId}; }
std::string counter_next_group_id() { return {kCounter, kNextGroupId}; }
std::string counter_inbox_head(UserId u) {
  std::string k{kCounter, kInboxHead};
  put_u64(k, u);
  return k;
}
std::string counter_conv_seq(const Conv& c) {
  std::string k{kCounter, kConvSeq};
  put_conv(k, c);
  return k;
}

std::string user(UserId u) { return with_user(kUser, u); }
std::string username(std::string_view name) { return with_prefix(kUsername).append(name); }
std::string token(std::string_view h) { return with_prefix(kToken).append(h); }
std::string inbox(UserId u, uint64_t useq) {
  auto k = with_user(kInbox, u);
  put_u64(k, useq);
  return k;
}
std::string inbox_prefix(UserId u) { return with_user(kInbox, u); }
std::string device(UserId u, std::string_view d) { return with_user(kDevice, u).append(d); }
std::string device_prefix(UserId u) { return with_user(kDevice, u); }
std::string dedup(UserId u, std::string_view cid) { return with_user(kDedup, u).append(cid); }
std::string dedup_prefix(UserId u) { return with_user(kDedup, u); }
std::string message(const Conv& c, uint64_t seq) {
  auto k = message_prefix(c);
  put_u64(k, seq);
  return k;
}
std::string message_prefix(const Conv& c) {
  auto k = with_prefix(kMessage);
  put_conv(k, c);
  return k;
}
std::string read_cursor(UserId u, const Conv& c) {
  auto k = with_user(kReadCursor, u);
  put_conv(k, c);
  return k;
}
std::string user_conv(UserId u, const Conv& c) {
  auto k = with_user(kUserConv, u);
  put_conv(k, c);
  return k;
}
std::string user_conv_prefix(UserId u) { return with_user(kUserConv, u); }
std::string friend_edge(UserId u, UserId peer) {
  auto k = with_user(kFriend, u);
  put_u64(k, peer);
  return k;
}
std::string friend_prefix(UserId u) { return with_user(kFriend, u); }
std::string block(UserId u, UserId b) {
  auto k = with_user(kBlock, u);
  put_u64(k, b);
  return k;
}
std::string block_prefix(UserId u) { return with_user(kBlock, u); }
std::string group(GroupId g) { return with_user(kGroup, g); }
std::string user_group(UserId u, GroupId g) {
  auto k = with_user(kUserGroup, u);
  put_u64(k, g);
  return k;
}
std::string user_group_prefix(UserId u) { return with_user(kUserGroup, u); }
std::string file(std::string_view id) { return with_prefix(kFile).append(id); }
std::string file_bytes(std::string_view id) { return with_prefix(kFileBytes).append(id); }

namespace {
constexpr size_t kInboxHeadCounterSize = 2 + 8;  // kCounter kInboxHead uid
constexpr size_t kInboxKeySize = 1 + 8 + 8;       // kInbox uid useq
}  // namespace

bool is_implied_counter(std::string_view counter_key) {
  return counter_key.size() == kInboxHeadCounterSize && counter_key[0] == kCounter && counter_key[1] == kInboxHead;
}

std::string implying_prefix(std::string_view counter_key) {
  if (!is_implied_counter(counter_key)) return {};
  return inbox_prefix(get_u64(counter_key.substr(2)));
}

std::string implied_counter(std::string_view key, uint64_t* value) {
  if (key.size() != kInboxKeySize || key[0] != kInbox) return {};
  *value = get_u64(key.substr(9));
  return counter_inbox_head(get_u64(key.substr(1)));
}

std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xFF) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // empty: no upper bound
}

}  // namespace im::keys
