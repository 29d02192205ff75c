#pragma once
// Which cids may have a dedup record, per user, so that a send with a new cid (nearly every send)
// is answered "not a resend" without a LevelDB read.
//
// Contract: once a user is loaded, its entry is a superset of the cids stored for it. load()
// reads every stored cid, and every record written after it goes through note_put(). Expired or
// swept records may stay in the entry, and different cids may share a hash: both only cost the
// LevelDB read the index would have saved. A user that is not loaded (never, forgotten, or over
// the cap) may have any cid stored.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "protocol/ids.hpp"
#include "store/store.hpp"
#include "store/u64_set.hpp"

namespace im {

class DedupIndex {
 public:
  // A user with more stored cids than `max_cids_per_user` is not indexed (0: nobody is).
  explicit DedupIndex(size_t max_cids_per_user) : max_cids_(max_cids_per_user) {}

  // False only when `user`'s cids are loaded and `cid` is not among them: then it has no record.
  bool may_be_stored(UserId user, std::string_view cid) const;

  // Called by the build function that writes `cid`'s record (on the commit thread), so that the
  // entry covers it before the write can be read.
  void note_put(UserId user, std::string_view cid);

  // Reads `user`'s stored cids into a fresh entry (none if the read fails or finds too many). Must
  // run in a commit's done callback, on the store's commit thread: every record of that write's
  // group and of earlier ones is then readable, and the builds of later groups, which call
  // note_put, run after this returns. A build of the same group that ran before it found the user
  // not loaded, but its record is already written.
  void load(const Store& store, UserId user);

  // Drops `user`'s entry (its actor went away): its cids are "maybe" again.
  void forget(UserId user);

  size_t users_loaded() const;
  // How many cids `user`'s entry holds (0 when not loaded): the admin view's dedup_entries.
  size_t cids(UserId user) const;

 private:
  static uint64_t hash(std::string_view cid);

  size_t max_cids_;
  mutable std::mutex mutex_;
  std::unordered_map<UserId, U64Set> loaded_;
};

}  // namespace im
