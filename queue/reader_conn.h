#pragma once
// Internal to queue/: the Reader's connection and prepared statements, shared
// by reader.cc and reader_listing.cc, and the row decoders they both use.
// Not for other folders. Same thread rules as Reader.

#include <string>

#include "queue/db.h"
#include "queue/reader.h"

namespace tern::queue {

struct Reader::Conn {
  std::string spool_dir;
  DbPtr db;
  Stmt due, next_due, body, counts, oldest;     // reader.cc
  Stmt list, summary_states, summary_domains, summary_domain_count, summary_errors;  // reader_listing.cc
  Stmt find, recipients, history;
};

// A read transaction: one snapshot across several statements. Ends (COMMIT,
// which for a reader only releases the snapshot) when destroyed. Inside an
// open transaction it does nothing, so readers compose.
class ReadTxn {
 public:
  ReadTxn() = default;
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  ~ReadTxn();
  Status begin(sqlite3* db);

 private:
  sqlite3* db_ = nullptr;
};

// The data of message `id` from its bodies row (data, file_size) at `first`.
Result<std::shared_ptr<const MessageData>> message_data_from(const Stmt& s, int first, const std::string& spool_dir,
                                                             const std::string& id);

// Prepares the statements reader_listing.cc uses (called by Reader::open).
Status prepare_listing(Reader::Conn& conn);

// The stored sender text ("" for <>) as a Path.
smtp::Path path_from_text(const std::string& text);
// MAIL parameters from six columns starting at `first`: size_param, body,
// smtputf8, ret, envid, auth_param.
smtp::MailParams mail_params_from(const Stmt& s, int first);

}  // namespace tern::queue
