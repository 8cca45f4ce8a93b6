#pragma once
// `tern user add|delete|list` on a spool directory (INTERFACE.md). The
// password comes from --password-file or stdin and loses exactly one trailing
// "\n"; it is stored only as an Argon2id hash (relay/password.h). Returns a
// sysexits code: 0 ok; 64 bad action; 65 bad name or empty password; 66
// password file unreadable; 67 (EX_NOUSER) deleting an unknown user; 73 spool
// missing or not writable; 74 database error; 75 busy past 5 s.
// run_user() (relay/cli.h) resolves the spool from the config and calls this.

#include <string>

#include "relay/cli.h"
#include "relay/cli_io.h"

namespace tern::relay {

int user_command(const std::string& spool_dir, const UserOptions& opts);
int user_command(const std::string& spool_dir, const UserOptions& opts, const CliIo& io);

}  // namespace tern::relay
