#pragma once
// Friendships, friend requests, blocks and uploaded-file records (PROTOCOL.md section 3), over
// Store. Reads are plain functions; writes are helpers for a Store::commit build function, so a
// record change and the inbox events it causes land in one atomic write.
//
// A friendship is stored on both sides (keys::friend_edge(user, peer) -> one state byte), so each
// user's lists are one prefix scan:
//   A asked B:       (A,B) = outgoing, (B,A) = incoming
//   A and B friends: (A,B) = friends,  (B,A) = friends
//   nothing:         neither key exists

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/ids.hpp"
#include "store/store.hpp"

namespace im {

// The state byte of a friend edge. ON-DISK FORMAT: DO NOT CHANGE the values.
enum class FriendState : char {
  none = 0,  // never stored: the edge is absent
  outgoing = 'o',
  incoming = 'i',
  friends = 'f',
};

FriendState friend_state(const Store& store, UserId user, UserId peer);

// A user's edges by state, each list ascending.
struct FriendLists {
  std::vector<UserId> friends, incoming, outgoing;
};
FriendLists friend_lists(const Store& store, UserId user);
// Only the accepted friendships, ascending.
std::vector<UserId> friends_of(const Store& store, UserId user);

// Sets (or, for FriendState::none, deletes) the edge user -> peer.
void put_friend_edge(Txn& txn, UserId user, UserId peer, FriendState state);

// What a friend request or a removal does to both sides of a pair.
struct FriendChange {
  bool changes = false;  // false: nothing to write, no events
  FriendState mine = FriendState::none;    // the acting user's edge afterwards
  FriendState theirs = FriendState::none;  // the peer's edge afterwards
  const char* event = nullptr;   // the `friend` event's state when `changes`
  const char* answer = nullptr;  // PUT's answer ("requested" or "friends"); null for removals
};
// PUT /api/friends/{peer} when the actor's edge is `current`: a request, a repeat of one (no
// change), or the acceptance of the peer's request.
FriendChange plan_friend_request(FriendState current);
// DELETE /api/friends/{peer}: removes a friendship or a request in either direction.
FriendChange plan_friend_removal(FriendState current);

// Friendship changes read, decide and write as one step under this lock, held until the write is
// durable: two users asking each other at the same moment become friends, never two requests.
std::mutex& friend_change_mutex();

// Blocks: keys::block(blocker, blocked) -> "".
bool is_blocked(const Store& store, UserId blocker, UserId blocked);
std::vector<UserId> blocks_of(const Store& store, UserId blocker);  // ascending

// Uploaded files: keys::file(id) -> JSON {content_type, size}; the bytes live in a file.
struct FileRecord {
  std::string content_type;
  uint64_t size = 0;
};
void put_file_record(Txn& txn, const std::string& id, const FileRecord& record);
std::optional<FileRecord> find_file_record(const Store& store, const std::string& id);

}  // namespace im
