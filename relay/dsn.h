#pragma once
// Bounces: an RFC 3464 delivery status notification (multipart/report;
// report-type=delivery-status) for one message, listing its failed
// recipients, with the original header section attached as
// text/rfc822-headers. Sent from MAILER-DAEMON@hostname with the null
// envelope sender <>, to the original envelope sender, never to <> (no
// bounce loops), and only for recipients whose NOTIFY asks for failures
// (RFC 3461: no NOTIFY means failures are reported). Pure: no clock, no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/envelope.h"

namespace tern::relay {

struct FailedRecipient {
  smtp::Recipient recipient;  // address and its RCPT params (NOTIFY, ORCPT)
  std::string status;         // RFC 3463 code for Status:, e.g. "5.1.1" (4.4.7 when it expired)
  std::string remote_mta;     // "mx1.example.org" or "" when no host answered
  std::string diagnostic;     // the server's reply, e.g. "550 5.1.1 <bob@example.org>: no such user"; "" if none
  std::string reason;         // one human sentence for the text part
};

struct DsnInput {
  std::string hostname;           // Reporting-MTA and MAILER-DAEMON@hostname
  std::string queue_id;           // of the original message
  std::string dsn_message_id;     // Message-ID local part for the DSN (its own queue id)
  smtp::Path original_sender;
  smtp::MailParams original_params;  // ENVID, RET
  std::string arrival_date;       // RFC 5322 date the original arrived
  std::string date;               // RFC 5322 date now
  std::vector<FailedRecipient> failed;
  std::string_view original_headers;  // the original's header section (MessageData::headers())
};

struct DsnMessage {
  smtp::Envelope envelope;  // MAIL FROM:<>, RCPT TO: the original sender
  std::string data;         // the whole DSN, CRLF line ends
};

// nullopt when no DSN is due: null original sender, or no failed recipient
// wants a failure notification.
std::optional<DsnMessage> build_dsn(const DsnInput& input);

}  // namespace tern::relay
