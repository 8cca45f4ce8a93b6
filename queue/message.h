#pragma once
// The queue's data model as the daemon sees it: a message to store
// (NewMessage), the state of one recipient, and the outcome of one delivery
// attempt (AttemptRecord). Plain values, no I/O; how they map to SQLite rows is
// in schema.cc. Parsing a stored state never fails loudly: unknown text is
// nullopt, and callers treat it as corruption.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/envelope.h"

namespace tern::queue {

struct NewMessage {
  std::string id;               // make_queue_id()
  smtp::Envelope envelope;      // sender, MAIL params, recipients with their RCPT params
  std::string auth_user;        // empty when none
  std::string client_address;
  std::string data;             // the whole message as stored and delivered, CRLF line ends; with
                                // body_file, only the head (trace fields) before the file's body
  std::optional<std::uint64_t> body_file;  // the body is spool/bodies/<id>, this many octets (synced)
  std::chrono::system_clock::time_point received_at;
  // Filled by the writer when it stores the message: the recipients' row ids,
  // in envelope order (AttemptRecord::recipient_id), so a message delivered
  // straight from the commit callback needs no re-read.
  std::vector<std::int64_t> recipient_ids;
};

// Stored as text: 'ready', 'deferred', 'held', 'delivered', 'bounced'.
// ready: never attempted (or released), due at next_attempt; deferred: attempted,
// due again at next_attempt; held: parked by an operator; delivered and bounced
// are final.
enum class RecipientState { Ready, Deferred, Held, Delivered, Bounced };
std::string_view to_string(RecipientState state);
std::optional<RecipientState> parse_recipient_state(std::string_view text);
inline bool is_final(RecipientState s) { return s == RecipientState::Delivered || s == RecipientState::Bounced; }

// A message's state, for tern_queue_messages{state} and `queue list`: held if
// any recipient is held, else deferred if any non-final recipient has been
// attempted, else ready. Messages whose recipients are all final are deleted.
enum class MessageState { Ready, Deferred, Held };
std::string_view to_string(MessageState state);
std::optional<MessageState> parse_message_state(std::string_view text);

struct AttemptRecord {  // one delivery attempt's outcome for one recipient
  enum class Outcome { Delivered, Deferred, Bounced };
  std::string message_id;
  std::int64_t recipient_id = 0;
  Outcome outcome = Outcome::Deferred;
  std::string reply;  // server reply or error sentence (kept as last_reply and in history)
  std::string host;   // "mx1.example.org[192.0.2.7]" or ""
  std::chrono::system_clock::time_point attempted_at;
  std::chrono::system_clock::time_point next_attempt;  // for Deferred
};
std::string_view to_string(AttemptRecord::Outcome outcome);

// Mailbox <-> stored address text ("local@domain", or the bare local part for
// RCPT TO:<Postmaster>). The split is at the last '@': a quoted local part may
// contain '@', a domain never does.
std::string mailbox_text(const smtp::Mailbox& mailbox);
smtp::Mailbox parse_mailbox_text(std::string_view text);
// Stored codes of MAIL and RCPT parameters (fixed by the schema, not by enum order).
int body_code(smtp::BodyType body);          // 0 unspecified, 1 7BIT, 2 8BITMIME, 3 BINARYMIME
smtp::BodyType body_from_code(std::int64_t code);
int ret_code(smtp::DsnRet ret);              // 0 unspecified, 1 FULL, 2 HDRS
smtp::DsnRet ret_from_code(std::int64_t code);
int notify_bits(const smtp::RcptParams& params);  // 1 NEVER, 2 SUCCESS, 4 FAILURE, 8 DELAY
void set_notify_bits(std::int64_t bits, smtp::RcptParams& params);

// The domain lower-cased (ASCII only): the grouping key of `queue summary`.
std::string domain_key(std::string_view domain);

}  // namespace tern::queue
