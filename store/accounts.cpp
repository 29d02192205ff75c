#include "store/accounts.hpp"

#include <chrono>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "store/keys.hpp"

namespace im {

using json = nlohmann::json;

bool init_crypto() { return sodium_init() >= 0; }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_hex(size_t n) {
  std::string bytes(n, '\0');
  randombytes_buf(bytes.data(), n);
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

namespace {

void hash_params(PasswordHashCost cost, unsigned long long& ops, size_t& mem) {
  switch (cost) {
    case PasswordHashCost::min:
      ops = crypto_pwhash_OPSLIMIT_MIN;
      mem = crypto_pwhash_MEMLIMIT_MIN;
      return;
    case PasswordHashCost::moderate:
      ops = crypto_pwhash_OPSLIMIT_MODERATE;
      mem = crypto_pwhash_MEMLIMIT_MODERATE;
      return;
    case PasswordHashCost::interactive:
      ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
      mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
      return;
  }
}

}  // namespace

Accounts::Accounts(Store& store, PasswordHashCost cost, int64_t token_ttl_s)
    : store_(store), users_(store, keys::counter_next_user_id()), cost_(cost), token_ttl_s_(token_ttl_s) {}

std::string Accounts::hash_token(const std::string& token) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

// Uniqueness of a username. Txn::get reads the committed database only, not the earlier writes of
// the same group commit, so two registrations of one name whose writes land in one group would
// both pass the check inside the write. Instead a registration first claims the name in memory,
// before it hashes the password, and keeps the claim until its write is durable (or failed): of
// any number of concurrent registrations of one name, one holds the claim and the others get
// username_taken at once, without paying for an Argon2id hash. Once the claim is released the
// name is in the committed database, where every later check finds it. A claim rather than a
// read-your-group's-writes Txn: it also stops the losers before their hash, and it keeps the
// store's write path (the message path) free of a per-group overlay of puts. It holds within one
// process, which owns its LevelDB store exclusively.
bool Accounts::claim(const std::string& username) {
  std::lock_guard<std::mutex> lock(claims_mutex_);
  return claims_.insert(username).second;
}

void Accounts::release(const std::string& username) {
  std::lock_guard<std::mutex> lock(claims_mutex_);
  claims_.erase(username);
}

RegisterResult Accounts::register_user(const std::string& username, const std::string& password) {
  RegisterResult result;
  if (!valid_username(username) || !valid_password(password)) {
    result.error = Error::invalid;
    return result;
  }
  if (!claim(username)) {  // another registration of this name is under way
    result.error = Error::username_taken;
    return result;
  }
  struct Release {
    Accounts& self;
    const std::string& name;
    ~Release() { self.release(name); }
  } release_claim{*this, username};
  std::string existing;
  if (store_.get(keys::username(username), &existing)) {
    result.error = Error::username_taken;
    return result;
  }
  unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  hash_params(cost_, ops, mem);
  char hashed[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(hashed, password.data(), password.size(), ops, mem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    result.error = Error::internal;
    return result;
  }
  std::string record_hash(hashed);
  bool taken = false;
  bool written = store_.commit_and_wait(
      [&](Txn& txn) {
        // The claim makes this check redundant; it stays as a guard on the committed database.
        std::string again;
        if (txn.get(keys::username(username), &again)) {
          taken = true;
          return;
        }
        result.user = txn.next(keys::counter_next_user_id());
        json record{{"username", username}, {"password_hash", record_hash}, {"created_ms", now_ms()}};
        txn.put(keys::user(result.user), record.dump());
        std::string id;
        keys::put_u64(id, result.user);
        txn.put(keys::username(username), id);
      });
  if (taken) result.error = Error::username_taken;
  else if (!written) result.error = Error::internal;
  return result;
}

LoginResult Accounts::login(const std::string& username, const std::string& password) {
  LoginResult result;
  std::string id, record_text;
  if (!store_.get(keys::username(username), &id) || id.size() != 8 ||
      !store_.get(keys::user(keys::get_u64(id)), &record_text)) {
    result.error = Error::bad_credentials;
    return result;
  }
  auto record = json::parse(record_text, nullptr, false);
  if (record.is_discarded() || !record.contains("password_hash")) {
    result.error = Error::internal;
    return result;
  }
  auto stored_hash = record["password_hash"].get<std::string>();
  if (crypto_pwhash_str_verify(stored_hash.c_str(), password.data(), password.size()) != 0) {
    result.error = Error::bad_credentials;
    return result;
  }
  result.user = keys::get_u64(id);
  result.token = random_hex(32);
  result.expires_in_s = token_ttl_s_;
  json token_record{{"user", result.user}, {"expires_ms", now_ms() + token_ttl_s_ * 1000}};
  auto key = keys::token(hash_token(result.token));
  if (!store_.commit_and_wait([&](Txn& txn) { txn.put(key, token_record.dump()); }))
    result.error = Error::internal;
  return result;
}

std::optional<TokenInfo> Accounts::authenticate(const std::string& token, bool* unreadable) const {
  if (unreadable) *unreadable = false;
  if (token.empty() || token.size() > 256) return std::nullopt;
  auto hash = hash_token(token);
  std::string value;
  auto found = store_.lookup(keys::token(hash), &value);
  if (found == Lookup::failed && unreadable) *unreadable = true;
  if (found != Lookup::found) return std::nullopt;
  auto record = json::parse(value, nullptr, false);
  if (record.is_discarded() || !record.contains("user") || !record.contains("expires_ms"))
    return std::nullopt;
  if (record["expires_ms"].get<int64_t>() <= now_ms()) return std::nullopt;
  return TokenInfo{record["user"].get<UserId>(), hash};
}

std::optional<TokenInfo> Accounts::revoke(const std::string& token) {
  auto info = authenticate(token);
  if (!info) return std::nullopt;
  store_.commit_and_wait([&](Txn& txn) { txn.del(keys::token(info->token_hash)); });
  return info;
}

void Accounts::revoke(const TokenInfo& info, std::function<void(bool ok)> done) {
  store_.commit([key = keys::token(info.token_hash)](Txn& txn) { txn.del(key); }, std::move(done));
}

std::optional<std::string> Accounts::username_of(UserId user) const {
  std::string value;
  if (!store_.get(keys::user(user), &value)) return std::nullopt;
  auto record = json::parse(value, nullptr, false);
  if (record.is_discarded() || !record.contains("username")) return std::nullopt;
  return record["username"].get<std::string>();
}

bool Accounts::exists(UserId user) const {
  // Ids come from one counter, written in the same batch as the user record, and accounts are
  // never deleted: every id up to the counter's durable value exists.
  return users_.covers(user);
}

}  // namespace im
