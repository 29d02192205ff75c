#pragma once
// Time-based retention (PROTOCOL.md section 6, OPERATIONS.md "The sweeper"): deletes inbox events
// older than the inbox retention and dedup records past their expiry. The count limit of the
// inbox (--inbox-max-events) is enforced on every append by append_inbox, not here.
//
// Both sweeps read with Store::scan and delete through Store::commit_and_wait in chunks of at
// most `keys_per_commit` keys, so the commit thread is never held long and writers in between are
// not starved. They are safe while the server runs: appends only add keys above the ones swept,
// and deleting a key that append_inbox's count limit already deleted is harmless. They block, so
// they run only on a thread that may block (never an I/O or actor thread). `now_ms` is a parameter
// so that tests can move time.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "store/store.hpp"

namespace im {

constexpr size_t kSweepKeysPerCommit = 1000;

struct SweepResult {
  uint64_t examined = 0;  // records read (inbox: events up to the first young one per user)
  uint64_t deleted = 0;   // keys deleted by commits that succeeded
  uint64_t commits = 0;   // commits issued
  uint64_t users = 0;     // inbox sweep: users with at least one inbox event
  bool ok = true;         // false if a commit failed or the sweep was cancelled (it stops there)
  bool cancelled = false;
};

// Deletes, for every user, the inbox events that are older than `now_ms - retention_ms`.
//
// Only `msg` and `notice` events carry a `ts`. The rule is conservative: an event is deleted when
// its useq is at most the highest useq whose `ts` is older than the cutoff, found by reading each
// inbox from the oldest event up and stopping at the first event whose `ts` is not older. An event
// without `ts` is thus deleted only when a later event (appended after it, so it is older than
// that one) is old. The inbox head counter is never touched: useqs are never reused, and a device
// whose cursor falls below the oldest event kept gets `gap: true` at its next auth.
//
// `cancel` (optional) is checked between users and chunks; a cancelled sweep returns ok = false.
SweepResult sweep_inbox(Store& store, int64_t now_ms, int64_t retention_ms,
                        size_t keys_per_commit = kSweepKeysPerCommit,
                        const std::atomic<bool>* cancel = nullptr);

// Deletes the dedup records that find_dedup would no longer return: expires_ms <= now_ms, or not
// readable as a record.
SweepResult sweep_dedup(Store& store, int64_t now_ms, size_t keys_per_commit = kSweepKeysPerCommit,
                        const std::atomic<bool>* cancel = nullptr);

}  // namespace im
