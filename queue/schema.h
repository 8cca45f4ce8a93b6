#pragma once
// The spool's schema and its migrations, versioned by PRAGMA user_version, and
// open_spool(), which every connection (writer, reader, CLI) goes through: it
// checks or creates the spool directory, creates queue.db 0600, sets the
// pragmas and migrates. It fails with an Error naming the path; a database
// written by a newer tern (higher user_version) is refused, never downgraded.

#include <chrono>
#include <string>

#include "queue/db.h"
#include "smtp/result.h"

namespace tern::queue {

inline constexpr int kSchemaVersion = 2;

// spool_dir + "/queue.db".
std::string database_path(const std::string& spool_dir);

struct SpoolOpen {
  bool create_dir = false;  // mkdir the spool (0700) when missing; otherwise a missing spool is an error
  std::chrono::milliseconds busy_timeout{5000};
};

// Checks that spool_dir is a writable directory (creating it when asked),
// without touching the database: the CLI maps a failure here to EX_CANTCREAT.
Status check_spool_dir(const std::string& spool_dir, bool create_dir);

// Opens spool_dir/queue.db for reading and writing, creating it (mode 0600)
// and migrating it to kSchemaVersion when needed. WAL mode, synchronous=FULL.
Result<DbPtr> open_spool(const std::string& spool_dir, const SpoolOpen& options);

// Applies the missing migrations in one BEGIN IMMEDIATE transaction; safe when
// several processes open the spool at once.
Status migrate(sqlite3* db);

// PRAGMA user_version of an open database.
Result<int> schema_version(sqlite3* db);

}  // namespace tern::queue
