#include "store/retention.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/inbox.hpp"
#include "store/keys.hpp"

namespace im {

namespace {

using json = nlohmann::json;

// Inbox keys: prefix byte, 8-byte user, 8-byte useq (store/keys.hpp).
constexpr size_t kInboxKeySize = 1 + 8 + 8;
// Dedup records read per scan before the iterator is released and `cancel` is looked at.
constexpr size_t kDedupScanPage = 8192;

bool cancel_requested(const std::atomic<bool>* cancel) { return cancel && cancel->load(std::memory_order_relaxed); }

// Collects keys to delete and deletes them in commits of at most `per_commit` keys.
class ChunkedDeleter {
 public:
  // With `still_stale`, a key is deleted only if, when its commit is built, its stored value still
  // passes the check, and it is deleted ahead of the other writes of that group commit: a record
  // that live traffic renewed after the scan (or renews in the same group) survives.
  using StillStale = std::function<bool(std::string_view value)>;
  // `cancel` (optional) is checked before every commit.
  ChunkedDeleter(Store& store, size_t per_commit, SweepResult& result, const std::atomic<bool>* cancel,
                 StillStale still_stale = {})
      : store_(store), per_commit_(std::max<size_t>(1, per_commit)), result_(result), cancel_(cancel),
        still_stale_(std::move(still_stale)) {}

  // Returns false once a commit failed.
  bool add(std::string key) {
    pending_.push_back(std::move(key));
    return pending_.size() < per_commit_ || flush();
  }

  bool flush() {
    if (pending_.empty()) return result_.ok;
    if (cancel_requested(cancel_)) {
      result_.ok = false;
      result_.cancelled = true;
      pending_.clear();
      return false;
    }
    auto keys = std::make_shared<std::vector<std::string>>(std::move(pending_));
    pending_.clear();
    ++result_.commits;
    auto deleted = std::make_shared<uint64_t>(0);
    bool ok = store_.commit_and_wait([keys, deleted, check = still_stale_](Txn& txn) {
      for (auto& key : *keys) {
        if (!check) {
          txn.del(key);
        } else {
          std::string value;
          if (!txn.get(key, &value) || !check(value)) continue;
          txn.del_first(key);
        }
        ++*deleted;
      }
    });
    if (ok) result_.deleted += *deleted;
    else result_.ok = false;
    return ok;
  }

 private:
  Store& store_;
  size_t per_commit_;
  SweepResult& result_;
  const std::atomic<bool>* cancel_;
  StillStale still_stale_;
  std::vector<std::string> pending_;
};

// A dedup record's expires_ms; 0 (long expired) when the record is not readable.
int64_t dedup_expires_ms(std::string_view text) {
  auto record = json::parse(text.begin(), text.end(), nullptr, false);
  if (!record.is_object()) return 0;
  auto expires = record.find("expires_ms");
  if (expires == record.end() || !expires->is_number_integer()) return 0;
  return expires->get<int64_t>();
}

// The first user at or after `from` that has an inbox event.
std::optional<UserId> next_inbox_user(const Store& store, const std::string& from, const std::string& to) {
  std::optional<UserId> user;
  store.scan(from, to, false, [&](std::string_view key, std::string_view) {
    if (key.size() != kInboxKeySize) return true;  // not an inbox key: never written, skip it
    user = keys::get_u64(key.substr(1));
    return false;
  });
  return user;
}

// The useqs of `user`'s inbox that are expired under the rule of sweep_inbox, ascending.
std::vector<uint64_t> expired_useqs(const Store& store, UserId user, int64_t cutoff_ms, SweepResult& result) {
  std::vector<uint64_t> seen;  // useqs read so far, ascending
  size_t expired = 0;          // seen[0, expired) are at or below the newest old ts
  auto prefix = keys::inbox_prefix(user);
  store.scan(prefix, keys::prefix_end(prefix), false, [&](std::string_view key, std::string_view value) {
    if (key.size() != kInboxKeySize) return true;
    ++result.examined;
    auto ts = inbox_event_ts(value);
    if (ts && *ts >= cutoff_ms) return false;  // young: so is everything after it, as far as we know
    seen.push_back(keys::get_u64(key.substr(9)));
    if (ts) expired = seen.size();
    return true;
  });
  seen.resize(expired);
  return seen;
}

}  // namespace

SweepResult sweep_inbox(Store& store, int64_t now_ms, int64_t retention_ms, size_t keys_per_commit,
                        const std::atomic<bool>* cancel) {
  SweepResult result;
  ChunkedDeleter deleter(store, keys_per_commit, result, cancel);
  const int64_t cutoff_ms = now_ms - retention_ms;
  const std::string all_inboxes_end = keys::prefix_end(std::string(1, keys::kInbox));
  std::string from(1, keys::kInbox);
  while (result.ok) {
    if (cancel_requested(cancel)) {
      result.ok = false;
      result.cancelled = true;
      break;
    }
    auto user = next_inbox_user(store, from, all_inboxes_end);
    if (!user) break;
    ++result.users;
    for (uint64_t useq : expired_useqs(store, *user, cutoff_ms, result))
      if (!deleter.add(keys::inbox(*user, useq))) break;
    from = keys::prefix_end(keys::inbox_prefix(*user));
    if (from.empty() || from >= all_inboxes_end) break;  // the largest user id was the last
  }
  if (result.ok) deleter.flush();
  return result;
}

SweepResult sweep_dedup(Store& store, int64_t now_ms, size_t keys_per_commit, const std::atomic<bool>* cancel) {
  SweepResult result;
  // A sender may reuse an expired cid between the scan and the delete: its fresh record stays.
  ChunkedDeleter deleter(store, keys_per_commit, result, cancel,
                         [now_ms](std::string_view value) { return dedup_expires_ms(value) <= now_ms; });
  const std::string end = keys::prefix_end(std::string(1, keys::kDedup));
  std::string from(1, keys::kDedup);
  bool more = true;
  while (more && result.ok) {
    if (cancel_requested(cancel)) {
      result.ok = false;
      result.cancelled = true;
      break;
    }
    // One page: the iterator is released before the deletes are committed.
    std::vector<std::string> expired;
    std::string last_key;
    size_t read = 0;
    more = false;
    store.scan(from, end, false, [&](std::string_view key, std::string_view value) {
      ++read;
      ++result.examined;
      if (dedup_expires_ms(value) <= now_ms) expired.emplace_back(key);
      if (read < kDedupScanPage) return true;
      last_key.assign(key);
      more = true;
      return false;
    });
    if (more) from = last_key + '\0';  // the smallest key after the last one read
    for (auto& key : expired)
      if (!deleter.add(std::move(key))) break;
  }
  if (result.ok) deleter.flush();
  return result;
}

}  // namespace im
