#pragma once
// The store as the HTTP API (net/) sees it: named reads and writes of accounts, conversations,
// groups, friends, blocks and files, with no keys and no Store in sight. net/ reaches storage only
// through this class (net/CMakeLists.txt checks it), so the key layout and the choice of LevelDB or
// PostgreSQL stay inside store/.
//
// Reads see committed state (PostgreSQL: one round trip each). Those that scan a prefix or read
// many records are for the blocking pool, never the I/O thread; each says so. When remote(), no
// read belongs on an I/O thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/ids.hpp"
#include "store/file_bytes.hpp"
#include "store/conversations.hpp"
#include "store/groups.hpp"
#include "store/social.hpp"

namespace im {

class Store;
class Txn;

class Records {
 public:
  // `remote`: every read is a round trip to a database server (PostgreSQL), which the HTTP layer
  // keeps off its I/O threads.
  Records(Store& store, FileStorage files, bool remote)
      : store_(store), files_(std::move(files)), remote_(remote) {}

  bool remote() const { return remote_; }

  // Health and gauges (/healthz, /metrics, /admin/status): see Store.
  bool healthy() const;
  uint64_t write_errors() const;
  size_t queued_commits() const;
  size_t cached_counters() const;
  uint64_t approximate_bytes() const;

  // The user who holds `username`, if any.
  std::optional<UserId> user_by_name(std::string_view username) const;
  // The user's newest inbox useq (0 for an empty inbox).
  uint64_t inbox_head(UserId user) const;

  // The user's 1:1 conversations, in key order. A prefix scan: blocking pool.
  std::vector<Conv> direct_conversations(UserId user) const;
  // The newest stored seq of a conversation (0 when it has no message).
  uint64_t conversation_head(const Conv& conv) const;
  // The conversation's seq counter: the last seq handed out.
  uint64_t conversation_seq(const Conv& conv) const;
  std::optional<StoredMessage> message(const Conv& conv, uint64_t seq) const;
  // The newest messages with seq < before (0: no bound), at most `limit`, newest first. A scan.
  std::vector<std::pair<uint64_t, StoredMessage>> messages_before(const Conv& conv, uint64_t before,
                                                                  size_t limit) const;
  uint64_t read_cursor(UserId user, const Conv& conv) const;
  // Messages with seq in (after, head] not sent by `reader`. A scan.
  uint64_t count_unread(const Conv& conv, UserId reader, uint64_t after, uint64_t head) const;

  // The group if it exists and its record parses.
  std::optional<GroupRecord> group(GroupId gid) const;
  // The user's groups, ascending. A prefix scan: blocking pool.
  std::vector<GroupId> groups_of(UserId user) const;
  bool is_group_member(UserId user, GroupId gid) const;
  // The group's read counts from its members' stored cursors: one read per member.
  ReadCounts read_counts(GroupId gid, const std::vector<UserId>& members) const;

  FriendState friend_state(UserId user, UserId peer) const;
  // A prefix scan: blocking pool.
  FriendLists friend_lists(UserId user) const;
  bool is_blocked(UserId blocker, UserId blocked) const;
  // Ascending. A prefix scan: blocking pool.
  std::vector<UserId> blocks_of(UserId blocker) const;
  // Both edges of a planned friend change, as the `extra` writes of Runtime::append_events, so
  // that the change and its inbox events land in one atomic write.
  static std::function<void(Txn&)> friend_edges(UserId me, UserId peer, const FriendChange& change);
  // Blocks or unblocks (idempotent); `done` runs once the write is durable or failed.
  void set_block(UserId blocker, UserId blocked, bool block, std::function<void(bool ok)> done);

  std::optional<FileRecord> file(const std::string& id) const;
  enum class FileWrite { stored, bytes_failed, record_failed };
  // Stores a file's bytes and its record and waits until both are durable: blocking pool. The
  // record is written last (or in the same transaction), so a recorded file always has its bytes.
  FileWrite put_file_and_wait(const std::string& id, const FileRecord& record, const std::string& bytes);
  // A recorded file's bytes; nullopt when they cannot be read. Blocking pool.
  std::optional<std::string> file_bytes(const std::string& id, const FileRecord& record) const;

 private:
  Store& store_;
  FileStorage files_;
  bool remote_;
};

}  // namespace im
