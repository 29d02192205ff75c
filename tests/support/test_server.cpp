#include "support/test_server.hpp"

#include "store/pg_store.hpp"
#include "support/postgres.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace imtest {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "imtest-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {
std::string make_data_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "imtest-data-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}
}  // namespace

TestServer::TestServer(const std::function<void(im::ServerOptions&)>& configure) {
  options.port = 0;
  options.bind = "127.0.0.1";
  options.password_hash_cost = im::PasswordHashCost::min;
  // Tests register many accounts from 127.0.0.1; the tests of this limit set it.
  options.register_per_min_per_ip = 0;
  options.log_level = "warn";
  options.data_dir = make_data_dir();
  options.postgres = postgres_for(options.data_dir);
  if (configure) configure(options);
  app_ = std::make_unique<im::App>(options);
  endpoint.port = app_->start();
}

TestServer::~TestServer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(options.data_dir, ec);
}

void TestServer::stop() {
  if (app_) app_->stop();
  app_.reset();
}

void TestServer::restart() {
  stop();
  app_ = std::make_unique<im::App>(options);
  endpoint.port = app_->start();
}

std::unique_ptr<im::Store> TestServer::open_store() const {
  std::string error;
  std::unique_ptr<im::Store> store;
  if (!options.postgres.empty()) store = im::open_pg_store({options.postgres}, &error);
  else store = im::Store::open({options.data_dir + "/db", false}, &error);
  if (!store) throw std::runtime_error("cannot open the test server's store: " + error);
  return store;
}

imclient::Account TestServer::account(const std::string& prefix) {
  return imclient::register_and_login(endpoint, imclient::unique_username(prefix), "password123");
}

std::string imserver_binary() {
  const char* bin = std::getenv("IMSERVER_BIN");
  if (!bin) throw std::runtime_error("IMSERVER_BIN is not set (run the tests through ctest)");
  return bin;
}

}  // namespace imtest
