#include "store/dedup_index.hpp"

#include <functional>
#include <vector>

#include <spdlog/spdlog.h>

#include "store/keys.hpp"

namespace im {

uint64_t DedupIndex::hash(std::string_view cid) { return std::hash<std::string_view>{}(cid); }

bool DedupIndex::may_be_stored(UserId user, std::string_view cid) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = loaded_.find(user);
  return it == loaded_.end() || it->second.contains(hash(cid));
}

void DedupIndex::note_put(UserId user, std::string_view cid) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = loaded_.find(user);
  if (it == loaded_.end()) return;
  it->second.insert(hash(cid));
  if (it->second.size() > max_cids_) loaded_.erase(it);  // too many to keep: "maybe" for all
}

void DedupIndex::load(const Store& store, UserId user) {
  if (max_cids_ == 0) return;
  U64Set cids;
  bool too_many = false;
  auto prefix = keys::dedup_prefix(user);
  bool read_all = store.scan(prefix, keys::prefix_end(prefix), false, [&](std::string_view key, std::string_view) {
    cids.insert(hash(key.substr(prefix.size())));
    too_many = cids.size() > max_cids_;
    return !too_many;
  });
  if (!read_all) spdlog::error("user {}: reading the stored cids failed; every send reads the store", user);
  std::lock_guard<std::mutex> lock(mutex_);
  if (too_many || !read_all) loaded_.erase(user);  // a partial set would answer "no record" wrongly
  else loaded_[user] = std::move(cids);
}

void DedupIndex::forget(UserId user) {
  std::lock_guard<std::mutex> lock(mutex_);
  loaded_.erase(user);
}

size_t DedupIndex::users_loaded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_.size();
}

size_t DedupIndex::cids(UserId user) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = loaded_.find(user);
  return it == loaded_.end() ? 0 : it->second.size();
}

}  // namespace im
