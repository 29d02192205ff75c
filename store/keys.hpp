#pragma once
// Every LevelDB key imserver writes, in one place. ON-DISK FORMAT: the prefix bytes and layouts
// below are stored in users' data directories. DO NOT CHANGE existing values; add new prefixes.
//
// Numbers are big-endian fixed width, so LevelDB's bytewise order is numeric order and a prefix
// scan walks a user's inbox or a conversation in sequence order.

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/ids.hpp"

namespace im::keys {

// Prefix bytes. DO NOT CHANGE.
enum Prefix : char {
  kCounter = 0x01,     // kCounter kind [id...] -> u64 (last value handed out)
  kUser = 0x02,        // uid -> JSON {username, password_hash, created_ms}
  kUsername = 0x03,    // username -> uid
  kToken = 0x04,       // sha256(token) -> JSON {user, expires_ms}
  kInbox = 0x10,       // uid useq -> inbox event JSON (with its useq), or a msg event by reference
                       //   (kMsgRefTag ..., store/inbox.hpp)
  kDevice = 0x12,      // uid device -> JSON {cursor, next_cseq}
  kDedup = 0x13,       // uid cid -> JSON {conv, seq, ts, expires_ms}
  kMessage = 0x20,     // conv seq -> message JSON {from, body, ts, recalled?}
  kReadCursor = 0x22,  // uid conv -> u64 read seq
  kUserConv = 0x23,    // uid conv -> "": the user's direct conversations (the list reads each
                       //   one's head; older data directories hold JSON {last_seq, last_ts}, unread)
  kFriend = 0x30,      // uid peer -> state byte: 'o' uid asked peer, 'i' peer asked uid, 'f' friends
                       //   (both sides stored; FriendState in store/social.hpp)
  kBlock = 0x31,       // uid blocked_uid -> ""
  kGroup = 0x40,       // gid -> JSON {name, owner, members[]}
  kUserGroup = 0x41,   // uid gid -> ""
  kFile = 0x50,        // file id -> JSON {content_type, size}
  kFileBytes = 0x51,   // file id -> the file's bytes (PostgreSQL only: store/file_bytes.hpp)
};

// Counter kinds, the byte after kCounter. DO NOT CHANGE.
enum CounterKind : char {
  kNextUserId = 'U',
  kNextGroupId = 'G',
  kInboxHead = 'I',  // followed by uid; implied by the inbox keys (below)
  kConvSeq = 'S',    // followed by the conversation
};

void put_u64(std::string& out, uint64_t v);
uint64_t get_u64(std::string_view in);  // first 8 bytes, big-endian; in.size() >= 8

// A conversation as key bytes: kind byte (0 direct, 1 group), then a and b (b = 0 for groups).
void put_conv(std::string& out, const Conv& c);
Conv get_conv(std::string_view in);  // inverse of put_conv; in.size() >= 17

std::string counter_next_user_id();
std::string counter_next_group_id();
std::string counter_inbox_head(UserId u);
std::string counter_conv_seq(const Conv& c);

std::string user(UserId u);
std::string username(std::string_view name);
std::string token(std::string_view token_hash);
std::string inbox(UserId u, uint64_t useq);
std::string inbox_prefix(UserId u);
std::string device(UserId u, std::string_view device);
std::string device_prefix(UserId u);
std::string dedup(UserId u, std::string_view cid);
std::string dedup_prefix(UserId u);
std::string message(const Conv& c, uint64_t seq);
std::string message_prefix(const Conv& c);
std::string read_cursor(UserId u, const Conv& c);
std::string user_conv(UserId u, const Conv& c);
std::string user_conv_prefix(UserId u);
std::string friend_edge(UserId u, UserId peer);
std::string friend_prefix(UserId u);
std::string block(UserId u, UserId blocked);
std::string block_prefix(UserId u);
std::string group(GroupId g);
std::string user_group(UserId u, GroupId g);
std::string user_group_prefix(UserId u);
std::string file(std::string_view id);
std::string file_bytes(std::string_view id);

// The smallest key greater than every key starting with `prefix`.
std::string prefix_end(std::string prefix);

// Implied counters. A user's inbox head is not written with every event: each value it hands out is
// the last 8 bytes of the inbox key put in the same write, so the head is the larger of the stored
// counter and the user's newest inbox key. The store (store.cpp) writes the counter key only when a
// write deletes the inbox key that carries the head (retention), and reads it back that way.
// Data directories from before this keep a counter key at the head, which the rule reads the same.

// True for a counter key whose value is implied (kInboxHead).
bool is_implied_counter(std::string_view counter_key);
// For an implied counter, the prefix of the keys that carry its values (the user's inbox prefix).
std::string implying_prefix(std::string_view counter_key);
// For a key that carries an implied counter's value (an inbox key): that counter's key; empty
// otherwise. *value is set to the value the key carries.
std::string implied_counter(std::string_view key, uint64_t* value);

}  // namespace im::keys
