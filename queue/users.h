#pragma once
// Submission accounts in the spool's users table: name -> Argon2id encoded
// hash and creation time. Stores and returns hashes as given; hashing and
// verifying passwords is relay/password.h's job (this folder links no crypto).
// Names are checked here: 1..128 printable ASCII characters, no spaces.
// Errors are db_error()s. Thread-safety: one Users per thread (own connection).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/result.h"

namespace tern::queue {

// Empty when valid, else why not ("user name must be 1..128 characters").
std::optional<std::string> invalid_user_name(std::string_view name);

struct UserRecord {
  std::string name;
  std::string hash;
  std::chrono::system_clock::time_point created_at;
};

class Users {
 public:
  struct Options {
    std::chrono::milliseconds busy_timeout{5000};
  };
  static Result<std::unique_ptr<Users>> open(const std::string& spool_dir, Options options);
  static Result<std::unique_ptr<Users>> open(const std::string& spool_dir) { return open(spool_dir, Options{}); }
  ~Users();
  Users(const Users&) = delete;
  Users& operator=(const Users&) = delete;

  // Adds the user, or replaces the hash of an existing one (keeping its
  // creation time). Returns true when it replaced. An invalid name is a
  // permanent Error.
  Result<bool> put(std::string_view name, std::string_view hash, std::chrono::system_clock::time_point now);
  // Returns false when there was no such user.
  Result<bool> remove(std::string_view name);
  Result<std::optional<UserRecord>> find(std::string_view name);
  Result<std::vector<UserRecord>> list();  // by name

 private:
  struct Conn;
  explicit Users(std::unique_ptr<Conn> conn);
  std::unique_ptr<Conn> conn_;
};

}  // namespace tern::queue
