#include "app.hpp"

#include <filesystem>
#include <stdexcept>

#include "actors/runtime.hpp"
#include "net/server.hpp"
#include "store/accounts.hpp"
#include "store/pg_store.hpp"
#include "store/records.hpp"
#include "store/store.hpp"
#include "sweeper.hpp"

namespace im {

struct App::Parts {
  std::unique_ptr<Store> store;
  std::unique_ptr<Records> records;  // the store as net/ sees it
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<Server> server;
  std::unique_ptr<Sweeper> sweeper;  // expired inbox events and dedup records
};

App::App(ServerOptions options) : options_(std::move(options)) {}

App::~App() { stop(); }

Store& App::store() { return *parts_->store; }

uint16_t App::start() {
  if (!init_crypto()) throw std::runtime_error("libsodium failed to initialize");
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  parts_ = std::make_unique<Parts>();
  std::string error;
  if (!options_.postgres.empty()) {
    PgStoreOptions pg;
    pg.conninfo = options_.postgres;
    pg.queue_max = static_cast<size_t>(options_.store_queue_max);
    pg.statement_timeout_ms = static_cast<int>(options_.postgres_timeout_ms);
    parts_->store = open_pg_store(pg, &error);
    if (!parts_->store) throw std::runtime_error("cannot open the PostgreSQL store: " + error);
  } else {
    StoreOptions store_options;
    store_options.path = options_.data_dir + "/db";
    store_options.fsync = options_.fsync;
    store_options.counter_cache_entries = static_cast<size_t>(options_.counter_cache_entries);
    parts_->store = Store::open(store_options, &error);
    if (!parts_->store) throw std::runtime_error("cannot open the store in " + options_.data_dir + ": " + error);
  }
  parts_->accounts = std::make_unique<Accounts>(*parts_->store, options_.password_hash_cost, options_.token_ttl_s);
  parts_->runtime = std::make_unique<Runtime>(options_, *parts_->store, *parts_->accounts);
  FileStorage files;
  files.in_store = !options_.postgres.empty();
  files.directory = options_.data_dir + "/files";
  files.fsync = options_.fsync;
  // Before serving: no upload is running yet.
  if (!files.in_store) remove_upload_leftovers(options_.data_dir, *parts_->store);
  parts_->records = std::make_unique<Records>(*parts_->store, files, files.in_store);
  parts_->server = std::make_unique<Server>(options_, *parts_->runtime, *parts_->accounts, *parts_->records);
  auto port = parts_->server->start();
  parts_->sweeper = std::make_unique<Sweeper>(options_, *parts_->store, parts_->runtime->counters());
  parts_->sweeper->start();
  return port;
}

void App::stop() {
  if (!parts_) return;
  if (parts_->sweeper) parts_->sweeper->stop();  // before the store is flushed
  if (parts_->server) parts_->server->stop();
  if (parts_->runtime) parts_->runtime->shutdown();
  parts_->server.reset();
  parts_->runtime.reset();
  if (parts_->store) parts_->store->flush();
  parts_.reset();
}

}  // namespace im
