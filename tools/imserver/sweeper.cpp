#include "sweeper.hpp"

#include <pthread.h>

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "actors/context.hpp"
#include "store/accounts.hpp"
#include "store/keys.hpp"
#include "store/retention.hpp"
#include "store/store.hpp"

namespace im {

namespace fs = std::filesystem;

namespace {

// The name of an uploaded file: 32 lower-case hex digits (net/api_files.cpp).
bool is_file_id(const std::string& name) {
  if (name.size() != 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

size_t remove_upload_leftovers(const std::string& data_dir, const Store& store) {
  auto dir = fs::path(data_dir) / "files";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  size_t unfinished = 0, unrecorded = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& path = it->path();
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    bool is_tmp = path.extension() == ".tmp";
    if (!is_tmp) {
      auto name = path.filename().string();
      if (!is_file_id(name)) continue;  // not ours
      // Renamed into place, but the crash came before its record was written: nobody has its url.
      std::string ignored;
      if (store.lookup(keys::file(name), &ignored) != Lookup::missing) continue;  // recorded, or unreadable
    }
    std::error_code remove_ec;
    if (fs::remove(path, remove_ec)) ++(is_tmp ? unfinished : unrecorded);
    else if (remove_ec) spdlog::warn("cannot remove the upload leftover {}: {}", path.string(), remove_ec.message());
  }
  if (ec) spdlog::warn("cannot list {}: {}", dir.string(), ec.message());
  if (unfinished > 0) spdlog::info("removed {} unfinished upload(s) (*.tmp) from {}", unfinished, dir.string());
  if (unrecorded > 0) spdlog::info("removed {} upload(s) never recorded in the store from {}", unrecorded, dir.string());
  return unfinished + unrecorded;
}

Sweeper::Sweeper(const ServerOptions& options, Store& store, Counters& counters)
    : options_(options), store_(store), counters_(counters) {}

Sweeper::~Sweeper() { stop(); }

void Sweeper::start() {
  if (options_.sweep_interval_s <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "im.sweeper");
    run();
  });
}

void Sweeper::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cancel_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Sweeper::run() {
  // Capped so that a huge flag value cannot overflow the clock arithmetic.
  constexpr int64_t kMaxIntervalS = 366LL * 24 * 3600;
  const std::chrono::milliseconds interval = std::chrono::seconds(std::min(options_.sweep_interval_s, kMaxIntervalS));
  auto delay = std::min(interval, std::chrono::milliseconds(kFirstSweepDelay));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, delay, [this] { return stopping_; })) {
    lock.unlock();
    sweep_once();
    lock.lock();
    delay = interval;
  }
}

void Sweeper::sweep_once() {
  using Clock = std::chrono::steady_clock;
  auto started = Clock::now();
  const int64_t now = now_ms();
  constexpr int64_t kMaxRetentionDays = 1000LL * 366;  // keeps the arithmetic below far from overflow
  const int64_t retention_ms = std::min(options_.inbox_retention_days, kMaxRetentionDays) * 24 * 3600 * 1000;
  auto inbox = sweep_inbox(store_, now, retention_ms, kSweepKeysPerCommit, &cancel_);
  counters_.inbox_events_expired += inbox.deleted;
  SweepResult dedup;
  if (!inbox.cancelled) {
    dedup = sweep_dedup(store_, now, kSweepKeysPerCommit, &cancel_);
    counters_.dedup_records_expired += dedup.deleted;
  }
  ++counters_.sweeps;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (!inbox.ok || !dedup.ok) {
    if (inbox.cancelled || dedup.cancelled)
      spdlog::info("sweep: stopped by shutdown after deleting {} inbox event(s) and {} dedup record(s)",
                   inbox.deleted, dedup.deleted);
    else
      spdlog::error("sweep: a delete failed; deleted {} inbox event(s) and {} dedup record(s) before it",
                    inbox.deleted, dedup.deleted);
    return;
  }
  auto level = inbox.deleted + dedup.deleted > 0 ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level,
              "sweep: deleted {} inbox event(s) older than {} day(s) ({} read, {} inbox(es)) and {} expired "
              "dedup record(s) ({} read) in {} ms, {} commit(s)",
              inbox.deleted, options_.inbox_retention_days, inbox.examined, inbox.users, dedup.deleted,
              dedup.examined, ms, inbox.commits + dedup.commits);
}

}  // namespace im
