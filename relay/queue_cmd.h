#pragma once
// `tern queue list|summary|show|retry|hold|release|delete` on a spool
// directory (INTERFACE.md). Works while `tern serve` runs: reads use their own
// WAL snapshot, changes are short transactions waiting at most 5 s for the
// daemon's writer. Returns a sysexits code: 0 ok; 64 bad action; 66
// (EX_NOINPUT) unknown queue id; 73 spool missing or not writable; 74 database
// error; 75 database busy past the 5 s timeout. Messages go to io.err as
// "tern queue: ...". run_queue() (relay/cli.h) resolves the spool from the
// config and calls this.

#include <string>

#include "relay/cli.h"
#include "relay/cli_io.h"

namespace tern::relay {

int queue_command(const std::string& spool_dir, const QueueOptions& opts);
int queue_command(const std::string& spool_dir, const QueueOptions& opts, const CliIo& io);

}  // namespace tern::relay
