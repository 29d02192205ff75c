#include "store/social.hpp"

#include <nlohmann/json.hpp>

#include "store/keys.hpp"

namespace im {

namespace {

using json = nlohmann::json;

// The peer id at the end of a (prefix, user, peer) key.
UserId peer_of_key(std::string_view key) { return keys::get_u64(key.substr(key.size() - 8)); }

}  // namespace

FriendState friend_state(const Store& store, UserId user, UserId peer) {
  std::string value;
  if (!store.get(keys::friend_edge(user, peer), &value) || value.size() != 1) return FriendState::none;
  switch (value[0]) {
    case static_cast<char>(FriendState::outgoing): return FriendState::outgoing;
    case static_cast<char>(FriendState::incoming): return FriendState::incoming;
    case static_cast<char>(FriendState::friends): return FriendState::friends;
    default: return FriendState::none;
  }
}

FriendLists friend_lists(const Store& store, UserId user) {
  FriendLists lists;
  auto prefix = keys::friend_prefix(user);
  store.scan(prefix, keys::prefix_end(prefix), false, [&](std::string_view key, std::string_view value) {
    if (key.size() != prefix.size() + 8 || value.size() != 1) return true;
    auto peer = peer_of_key(key);
    switch (value[0]) {
      case static_cast<char>(FriendState::friends): lists.friends.push_back(peer); break;
      case static_cast<char>(FriendState::incoming): lists.incoming.push_back(peer); break;
      case static_cast<char>(FriendState::outgoing): lists.outgoing.push_back(peer); break;
      default: break;
    }
    return true;
  });
  return lists;
}

std::vector<UserId> friends_of(const Store& store, UserId user) { return friend_lists(store, user).friends; }

void put_friend_edge(Txn& txn, UserId user, UserId peer, FriendState state) {
  if (state == FriendState::none) txn.del(keys::friend_edge(user, peer));
  else txn.put(keys::friend_edge(user, peer), std::string(1, static_cast<char>(state)));
}

FriendChange plan_friend_request(FriendState current) {
  FriendChange change;
  switch (current) {
    case FriendState::none:
      change = {true, FriendState::outgoing, FriendState::incoming, "requested", "requested"};
      break;
    case FriendState::outgoing:  // asked again: still waiting
      change = {false, FriendState::outgoing, FriendState::incoming, nullptr, "requested"};
      break;
    case FriendState::incoming:  // they asked first: this accepts
      change = {true, FriendState::friends, FriendState::friends, "friends", "friends"};
      break;
    case FriendState::friends:
      change = {false, FriendState::friends, FriendState::friends, nullptr, "friends"};
      break;
  }
  return change;
}

FriendChange plan_friend_removal(FriendState current) {
  if (current == FriendState::none) return {};
  return {true, FriendState::none, FriendState::none, "removed", nullptr};
}

std::mutex& friend_change_mutex() {
  static std::mutex mutex;
  return mutex;
}

bool is_blocked(const Store& store, UserId blocker, UserId blocked) {
  std::string ignored;
  return store.get(keys::block(blocker, blocked), &ignored);
}

std::vector<UserId> blocks_of(const Store& store, UserId blocker) {
  std::vector<UserId> out;
  auto prefix = keys::block_prefix(blocker);
  store.scan(prefix, keys::prefix_end(prefix), false, [&](std::string_view key, std::string_view) {
    if (key.size() == prefix.size() + 8) out.push_back(peer_of_key(key));
    return true;
  });
  return out;
}

void put_file_record(Txn& txn, const std::string& id, const FileRecord& record) {
  txn.put(keys::file(id), json{{"content_type", record.content_type}, {"size", record.size}}.dump());
}

std::optional<FileRecord> find_file_record(const Store& store, const std::string& id) {
  std::string value;
  if (!store.get(keys::file(id), &value)) return std::nullopt;
  auto parsed = json::parse(value, nullptr, false);
  if (!parsed.is_object()) return std::nullopt;
  FileRecord record;
  record.content_type = parsed.value("content_type", std::string("application/octet-stream"));
  record.size = parsed.value("size", uint64_t{0});
  return record;
}

}  // namespace im
