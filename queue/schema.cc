// The schema, and why it looks the way it does.
//
// Durability. The database runs in WAL mode with synchronous=FULL: COMMIT
// appends the transaction's pages to queue.db-wal and fsyncs it before
// returning, so a committed message survives kill -9 and power loss. The
// writer groups many messages into one transaction (writer.cc), which is how
// one fsync pays for a whole batch.
//
// Recovery. What is being delivered right now is kept in the daemon's memory,
// never in the database: a recipient is 'ready' or 'deferred' until an outcome
// is recorded. A daemon killed mid-delivery therefore finds those recipients
// due again after restart and delivers them again: at-least-once, never
// at-most-once. There is no "in flight" state to clean up after a crash, and
// SQLite's own recovery (replaying or discarding the WAL tail) is all it takes.
//
// messages: one row per queued message. An integer rowid (mid) is the key
// other tables refer to (8 bytes instead of a 16-character id in every
// recipient and index entry); the queue id is UNIQUE. MAIL parameters are
// separate nullable/small columns: SQLite stores NULL, 0 and 1 in the record
// header alone, so this is as compact as any encoding and needs no parser.
// `state` is the message-level state (ready/deferred/held, defined in
// message.h), maintained by whoever changes a recipient (writer or CLI).
//
// bodies: the message data, apart from the metadata so that listing and
// summarising never page through 4 KiB+ blobs (SQLite reads a row's overflow
// pages only when the column is asked for, but the leaf pages of `messages`
// stay dense this way). A body over 1 MiB is not in the database at all: it
// is the file spool/bodies/<id>, `file_size` octets, and `data` holds only
// the trace header fields tern put in front of it (message_data.h).
//
// recipients: one row per RCPT, with its delivery state. Indexes:
//   recipients_message (mid): a message's recipients (due jobs, show, delete);
//   recipients_due (next_attempt) WHERE state IN ('ready','deferred'): the
//     scheduler's due-work query is a range scan of this partial index, O(log n)
//     to start, and final or held recipients are not in it at all;
//   recipients_errors (last_reply) WHERE state = 'deferred': `queue summary`
//     groups the most frequent errors by walking it, no sort.
// `domain` is the lower-cased recipient domain (summary key).
//
// history: one row per delivery attempt (recipient, time, outcome, host,
// reply), for `queue show`. Deleted with the message.
//
// message_counts and domain_counts: counters maintained by triggers, so that
// tern_queue_messages{state} and `queue summary` cost O(1) and O(domains)
// instead of a scan of a million rows, whoever writes (daemon or CLI). They are
// in the same transactions as the rows they count, so they cannot drift.
//
// users: submission accounts, name -> Argon2id encoded hash.
//
// Times are integer milliseconds since the Unix epoch (UTC).
#include "queue/schema.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tern::queue {
namespace {

struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE messages (
  mid            INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  sender         TEXT    NOT NULL,            -- '' is the null reverse-path <>
  size_param     INTEGER,                     -- MAIL SIZE=
  body           INTEGER NOT NULL DEFAULT 0,  -- 0 unspecified, 1 7BIT, 2 8BITMIME, 3 BINARYMIME
  smtputf8       INTEGER NOT NULL DEFAULT 0,
  ret            INTEGER NOT NULL DEFAULT 0,  -- 0 unspecified, 1 FULL, 2 HDRS
  envid          TEXT,
  auth_param     TEXT,                        -- MAIL AUTH=
  auth_user      TEXT    NOT NULL DEFAULT '',
  client_address TEXT    NOT NULL DEFAULT '',
  size           INTEGER NOT NULL,
  received_at    INTEGER NOT NULL,
  state          TEXT    NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'deferred', 'held'))
);
CREATE INDEX messages_received ON messages (received_at);

CREATE TABLE bodies (
  mid  INTEGER PRIMARY KEY,
  data BLOB NOT NULL
);

CREATE TABLE recipients (
  rid          INTEGER PRIMARY KEY,
  mid          INTEGER NOT NULL,
  address      TEXT    NOT NULL,
  domain       TEXT    NOT NULL,
  notify       INTEGER NOT NULL DEFAULT 0,  -- bits: 1 NEVER, 2 SUCCESS, 4 FAILURE, 8 DELAY; 0 not given
  orcpt        TEXT,
  state        TEXT    NOT NULL CHECK (state IN ('ready', 'deferred', 'held', 'delivered', 'bounced')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  last_reply   TEXT,
  last_attempt INTEGER
);
CREATE INDEX recipients_message ON recipients (mid);
CREATE INDEX recipients_due ON recipients (next_attempt) WHERE state IN ('ready', 'deferred');
CREATE INDEX recipients_errors ON recipients (last_reply) WHERE state = 'deferred';

CREATE TABLE history (
  hid     INTEGER PRIMARY KEY,
  rid     INTEGER NOT NULL,
  at      INTEGER NOT NULL,
  outcome TEXT    NOT NULL,
  host    TEXT    NOT NULL,
  reply   TEXT    NOT NULL
);
CREATE INDEX history_recipient ON history (rid);

CREATE TABLE message_counts (
  state TEXT PRIMARY KEY,
  n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO message_counts (state, n) VALUES ('ready', 0), ('deferred', 0), ('held', 0);

CREATE TRIGGER messages_counted_insert AFTER INSERT ON messages BEGIN
  UPDATE message_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER messages_counted_delete AFTER DELETE ON messages BEGIN
  UPDATE message_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER messages_counted_update AFTER UPDATE OF state ON messages WHEN OLD.state <> NEW.state BEGIN
  UPDATE message_counts SET n = n - 1 WHERE state = OLD.state;
  UPDATE message_counts SET n = n + 1 WHERE state = NEW.state;
END;

CREATE TABLE domain_counts (
  domain TEXT NOT NULL,
  state  TEXT NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (domain, state)
) WITHOUT ROWID;

CREATE TRIGGER recipients_counted_insert AFTER INSERT ON recipients BEGIN
  INSERT INTO domain_counts (domain, state, n) VALUES (NEW.domain, NEW.state, 1)
    ON CONFLICT (domain, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER recipients_counted_delete AFTER DELETE ON recipients BEGIN
  UPDATE domain_counts SET n = n - 1 WHERE domain = OLD.domain AND state = OLD.state;
  DELETE FROM domain_counts WHERE domain = OLD.domain AND state = OLD.state AND n <= 0;
END;
CREATE TRIGGER recipients_counted_update AFTER UPDATE OF state ON recipients WHEN OLD.state <> NEW.state BEGIN
  UPDATE domain_counts SET n = n - 1 WHERE domain = OLD.domain AND state = OLD.state;
  DELETE FROM domain_counts WHERE domain = OLD.domain AND state = OLD.state AND n <= 0;
  INSERT INTO domain_counts (domain, state, n) VALUES (NEW.domain, NEW.state, 1)
    ON CONFLICT (domain, state) DO UPDATE SET n = n + 1;
END;

CREATE TABLE users (
  name       TEXT PRIMARY KEY,
  hash       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    // Large bodies in files of their own (message_data.h): the row keeps tern's
    // head in `data` and the file's size here; NULL means `data` is the whole message.
    {2, R"sql(
ALTER TABLE bodies ADD COLUMN file_size INTEGER;
)sql"},
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version, in order");

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string database_path(const std::string& spool_dir) { return spool_dir + "/queue.db"; }

Status check_spool_dir(const std::string& spool_dir, bool create_dir) {
  if (spool_dir.empty()) return Error::permanent("spool directory is not set");
  struct stat st {};
  if (::stat(spool_dir.c_str(), &st) != 0) {
    int err = errno;
    if (err != ENOENT || !create_dir) {
      return Error::permanent("spool directory " + spool_dir + ": " + errno_text(err));
    }
    if (::mkdir(spool_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::permanent("cannot create spool directory " + spool_dir + ": " + errno_text(errno));
    }
    if (::stat(spool_dir.c_str(), &st) != 0) {
      return Error::permanent("spool directory " + spool_dir + ": " + errno_text(errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) return Error::permanent("spool " + spool_dir + " is not a directory");
  if (::access(spool_dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Error::permanent("spool directory " + spool_dir + " is not writable: " + errno_text(errno));
  }
  return {};
}

Result<int> schema_version(sqlite3* db) {
  auto stmt = Stmt::prepare(db, "PRAGMA user_version");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return Error::permanent("PRAGMA user_version returned no row");
  int version = static_cast<int>(stmt->int64(0));
  stmt->reset();
  return version;
}

Status migrate(sqlite3* db) {
  auto seen = schema_version(db);
  if (!seen) return seen.error();
  if (*seen == kSchemaVersion) return {};
  if (*seen > kSchemaVersion) {
    return Error::permanent("queue.db has schema version " + std::to_string(*seen) + ", newer than this tern (" +
                            std::to_string(kSchemaVersion) + "): refusing to touch it");
  }
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error().prefixed("migrating queue.db");
  // Another process may have migrated between our first look and the lock.
  auto current = schema_version(db);
  if (!current) return current.error();
  if (*current > kSchemaVersion) {
    return Error::permanent("queue.db has schema version " + std::to_string(*current) + ", newer than this tern");
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= *current) continue;
    if (auto s = exec(db, m.sql); !s) return s.error().prefixed("migration to version " + std::to_string(m.version));
  }
  if (auto s = exec(db, "PRAGMA user_version = " + std::to_string(kSchemaVersion)); !s) return s.error();
  return txn->commit();
}

Result<DbPtr> open_spool(const std::string& spool_dir, const SpoolOpen& options) {
  if (auto s = check_spool_dir(spool_dir, options.create_dir); !s) return s.error();
  std::string path = database_path(spool_dir);
  // Create the file ourselves so that it is 0600 whatever the umask; SQLite
  // gives the -wal and -shm files the same mode as the database. Only when it
  // does not exist yet: close() on ANY descriptor of the database file drops
  // every POSIX lock this process holds on it, among them the SHARED lock of
  // a connection that is already open (the daemon's writer when the
  // scheduler's reader opens). Without that lock, the next connection of
  // another process (a `tern queue` command) believes it is the last one on
  // close, checkpoints and deletes the WAL under the daemon's feet, and every
  // commit after that goes to an unlinked file.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    if (::close(fd) != 0) return Error::permanent("cannot close " + path + ": " + errno_text(errno));
  } else if (errno != EEXIST) {
    return Error::permanent("cannot open " + path + ": " + errno_text(errno));
  }

  auto db = open_db(path, false, options.busy_timeout);
  if (!db) return db.error();
  sqlite3* h = db->get();
  // journal_mode=WAL is stored in the file; setting it again is a no-op. It
  // needs a moment of exclusive access, which busy_timeout covers.
  auto mode = Stmt::prepare(h, "PRAGMA journal_mode = WAL");
  if (!mode) return mode.error().prefixed(path);
  auto row = mode->step();
  if (!row) return row.error().prefixed(path);
  std::string got = *row ? mode->text(0) : "";
  mode->reset();
  if (got != "wal") return Error::permanent(path + ": cannot switch to WAL mode (journal_mode is '" + got + "')");
  if (auto s = exec(h, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -16384;"); !s) {
    return s.error().prefixed(path);
  }
  if (auto s = migrate(h); !s) return s.error().prefixed(path);
  return std::move(*db);
}

}  // namespace tern::queue
