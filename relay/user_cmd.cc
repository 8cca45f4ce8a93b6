// `tern user ...`: submission accounts in the spool's users table.
#include "relay/user_cmd.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "queue/db.h"
#include "queue/schema.h"
#include "queue/users.h"
#include "relay/exit_codes.h"
#include "relay/password.h"
#include "relay/queue_format.h"
#include "relay/secret_file.h"

namespace tern::relay {
namespace {

int fail(const CliIo& io, const Error& error) {
  io.err << "tern user: " << error.message() << "\n";
  return queue::is_busy_error(error) ? kExTempFail : kExIoErr;
}

// Reads the whole password (stdin or file) and drops exactly one trailing "\n".
// Returns nullopt (after saying why) when it cannot be read.
std::optional<std::string> read_password(const UserOptions& opts, const CliIo& io) {
  if (opts.password_file) {
    auto secret = read_secret_file(*opts.password_file);
    if (!secret) {
      io.err << "tern user: password file: " << printable(secret.error().message()) << "\n";
      return std::nullopt;
    }
    return std::move(*secret);
  }
  std::string password(std::istreambuf_iterator<char>(io.in), std::istreambuf_iterator<char>{});
  if (io.in.bad()) {
    io.err << "tern user: error reading the password from stdin\n";
    return std::nullopt;
  }
  return strip_one_newline(std::move(password));
}

int add(queue::Users& users, const UserOptions& opts, const CliIo& io) {
  auto password = read_password(opts, io);
  if (!password) return kExNoInput;
  if (password->empty()) {
    io.err << "tern user: empty password refused\n";
    return kExDataErr;
  }
  auto hash = hash_password(*password);
  // Overwrite our copy: the hash is all we keep.
  std::fill(password->begin(), password->end(), '\0');
  if (!hash) {
    io.err << "tern user: " << hash.error().message() << "\n";
    return kExSoftware;
  }
  auto replaced = users.put(opts.name, *hash, io.now);
  if (!replaced) return fail(io, replaced.error());
  io.out << "tern user: " << (*replaced ? "replaced the password of " : "added ") << opts.name << "\n";
  return kExOk;
}

}  // namespace

int user_command(const std::string& spool_dir, const UserOptions& opts) {
  return user_command(spool_dir, opts, CliIo::standard());
}

int user_command(const std::string& spool_dir, const UserOptions& opts, const CliIo& io) {
  if (opts.action != "add" && opts.action != "delete" && opts.action != "list") {
    io.err << "tern user: unknown action: " << printable(opts.action) << "\n";
    return kExUsage;
  }
  if (opts.action != "list") {
    if (auto why = queue::invalid_user_name(opts.name)) {
      io.err << "tern user: " << *why << "\n";
      return kExDataErr;
    }
  }
  // `add` may come before the first `tern serve` (accounts are set up before
  // the relay starts), so it makes the spool as the daemon would; list and
  // delete on a spool that does not exist are mistakes worth reporting.
  if (auto s = queue::check_spool_dir(spool_dir, /*create=*/opts.action == "add"); !s) {
    io.err << "tern user: " << s.error().message() << "\n";
    return kExCantCreat;
  }
  auto users = queue::Users::open(spool_dir);
  if (!users) return fail(io, users.error());

  if (opts.action == "add") return add(**users, opts, io);
  if (opts.action == "delete") {
    auto removed = (*users)->remove(opts.name);
    if (!removed) return fail(io, removed.error());
    if (!*removed) {
      io.err << "tern user: no such user: " << opts.name << "\n";
      return kExNoUser;
    }
    io.out << "tern user: deleted " << opts.name << "\n";
    return kExOk;
  }
  auto all = (*users)->list();
  if (!all) return fail(io, all.error());
  if (all->empty()) {
    io.out << "no users\n";
    return kExOk;
  }
  std::size_t width = 4;
  for (const auto& u : *all) width = std::max(width, u.name.size());
  io.out << "NAME" << std::string(width - 4 + 2, ' ') << "CREATED\n";
  for (const auto& u : *all) {
    io.out << u.name << std::string(width - u.name.size() + 2, ' ') << rfc3339(u.created_at) << "\n";
  }
  return kExOk;
}

}  // namespace tern::relay
