#include "store/records.hpp"

#include <spdlog/spdlog.h>

#include "store/inbox.hpp"
#include "store/keys.hpp"
#include "store/store.hpp"

namespace im {

bool Records::healthy() const { return store_.healthy(); }
uint64_t Records::write_errors() const { return store_.write_errors(); }
size_t Records::queued_commits() const { return store_.queued_commits(); }
size_t Records::cached_counters() const { return store_.cached_counters(); }
uint64_t Records::approximate_bytes() const { return store_.approximate_bytes(); }

std::optional<UserId> Records::user_by_name(std::string_view username) const {
  std::string id;
  if (!store_.get(keys::username(username), &id) || id.size() != 8) return std::nullopt;
  return keys::get_u64(id);
}

uint64_t Records::inbox_head(UserId user) const { return im::inbox_head(store_, user); }

std::vector<Conv> Records::direct_conversations(UserId user) const { return im::direct_conversations(store_, user); }

uint64_t Records::conversation_head(const Conv& conv) const { return im::conversation_head(store_, conv); }

uint64_t Records::conversation_seq(const Conv& conv) const { return store_.counter(keys::counter_conv_seq(conv)); }

std::optional<StoredMessage> Records::message(const Conv& conv, uint64_t seq) const {
  return load_message(store_, conv, seq);
}

std::vector<std::pair<uint64_t, StoredMessage>> Records::messages_before(const Conv& conv, uint64_t before,
                                                                         size_t limit) const {
  return im::messages_before(store_, conv, before, limit);
}

uint64_t Records::read_cursor(UserId user, const Conv& conv) const { return load_read_cursor(store_, user, conv); }

uint64_t Records::count_unread(const Conv& conv, UserId reader, uint64_t after, uint64_t head) const {
  return im::count_unread(store_, conv, reader, after, head);
}

std::optional<GroupRecord> Records::group(GroupId gid) const { return load_group(store_, gid); }

std::vector<GroupId> Records::groups_of(UserId user) const { return im::groups_of(store_, user); }

bool Records::is_group_member(UserId user, GroupId gid) const { return im::is_group_member(store_, user, gid); }

ReadCounts Records::read_counts(GroupId gid, const std::vector<UserId>& members) const {
  return load_read_counts(store_, gid, members);
}

FriendState Records::friend_state(UserId user, UserId peer) const { return im::friend_state(store_, user, peer); }

FriendLists Records::friend_lists(UserId user) const { return im::friend_lists(store_, user); }

bool Records::is_blocked(UserId blocker, UserId blocked) const { return im::is_blocked(store_, blocker, blocked); }

std::vector<UserId> Records::blocks_of(UserId blocker) const { return im::blocks_of(store_, blocker); }

std::function<void(Txn&)> Records::friend_edges(UserId me, UserId peer, const FriendChange& change) {
  return [me, peer, mine = change.mine, theirs = change.theirs](Txn& txn) {
    put_friend_edge(txn, me, peer, mine);
    put_friend_edge(txn, peer, me, theirs);
  };
}

void Records::set_block(UserId blocker, UserId blocked, bool block, std::function<void(bool ok)> done) {
  store_.commit(
      [key = keys::block(blocker, blocked), block](Txn& txn) {
        if (block) txn.put(key, "");
        else txn.del(key);
      },
      std::move(done));
}

std::optional<FileRecord> Records::file(const std::string& id) const { return find_file_record(store_, id); }

Records::FileWrite Records::put_file_and_wait(const std::string& id, const FileRecord& record,
                                              const std::string& bytes) {
  if (files_.in_store) {
    bool ok = store_.commit_and_wait([&](Txn& txn) {
      txn.put(keys::file_bytes(id), bytes);
      put_file_record(txn, id, record);
    });
    return ok ? FileWrite::stored : FileWrite::record_failed;
  }
  auto failure = files_on_disk::write(files_, id, bytes);
  if (!failure.empty()) {
    spdlog::error("file {}: cannot write {}", id, failure);
    return FileWrite::bytes_failed;
  }
  if (!store_.commit_and_wait([&](Txn& txn) { put_file_record(txn, id, record); })) {
    files_on_disk::remove(files_, id);
    return FileWrite::record_failed;
  }
  return FileWrite::stored;
}

std::optional<std::string> Records::file_bytes(const std::string& id, const FileRecord& record) const {
  if (!files_.in_store) return files_on_disk::read(files_, id, record.size);
  std::string bytes;
  if (!store_.get(keys::file_bytes(id), &bytes) || bytes.size() != record.size) return std::nullopt;
  return bytes;
}

}  // namespace im
