#pragma once
// Users, passwords and tokens (PROTOCOL.md section 3). Passwords are hashed with Argon2id; tokens
// are random and only their hash is stored, with an expiry, so a stolen database reveals neither.
// Hashing is slow on purpose: call register_user and login off the I/O and actor threads.

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "store/id_horizon.hpp"

#include "protocol/errors.hpp"
#include "protocol/ids.hpp"
#include "protocol/options.hpp"
#include "store/store.hpp"

namespace im {

struct LoginResult {
  std::optional<Error> error;
  std::string token;
  UserId user = 0;
  int64_t expires_in_s = 0;
};

struct RegisterResult {
  std::optional<Error> error;
  UserId user = 0;
};

// Who a token belongs to.
struct TokenInfo {
  UserId user = 0;
  std::string token_hash;  // identifies the token without revealing it (for logout kicks)
};

class Accounts {
 public:
  Accounts(Store& store, PasswordHashCost cost, int64_t token_ttl_s);

  RegisterResult register_user(const std::string& username, const std::string& password);
  LoginResult login(const std::string& username, const std::string& password);
  // The token's owner if the token exists and has not expired. When the token's record cannot be
  // read (the database unreachable), returns nullopt and sets *unreadable if given: the token may
  // well be valid, and the caller answers `unavailable`, not "bad token".
  std::optional<TokenInfo> authenticate(const std::string& token, bool* unreadable = nullptr) const;
  // Deletes the token; it fails everywhere from now on. Returns its hash (for kicking sessions).
  std::optional<TokenInfo> revoke(const std::string& token);
  // Deletes the token `info` names without waiting: done(ok) runs on the store's commit thread once
  // the deletion is durable (or failed). For I/O threads, which must not wait for a commit.
  void revoke(const TokenInfo& info, std::function<void(bool ok)> done);

  std::optional<std::string> username_of(UserId user) const;
  bool exists(UserId user) const;

  static std::string hash_token(const std::string& token);

 private:
  // Claims `username` for one registration in this process; false if another holds it.
  bool claim(const std::string& username);
  void release(const std::string& username);

  Store& store_;
  IdHorizon users_;  // exists()
  PasswordHashCost cost_;
  int64_t token_ttl_s_;
  std::mutex claims_mutex_;
  std::unordered_set<std::string> claims_;  // names being registered right now
};

// Initializes libsodium; safe to call more than once. Returns false if it cannot.
bool init_crypto();

// `n` random bytes as lowercase hex (2n characters).
std::string random_hex(size_t n);

int64_t now_ms();

}  // namespace im
