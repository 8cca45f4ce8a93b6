#pragma once
// What `tern sendmail` tells its caller once the submission has run: one
// sysexits code and the lines for stderr, each "tern sendmail: <what
// happened>, server said: <reply>". Pure: it reads a SubmitOutcome (what the
// connection and the SMTP session reported) and decides nothing else. The
// policy, in one place:
//   0   every recipient accepted (250 after the final dot);
//   77  authentication refused (535, 530, any 5xx to AUTH) or the server's
//       certificate failed verification;
//   75  could not connect, TLS handshake failed, timeout, connection lost, or
//       any 4xx (even when other recipients were accepted);
//   69  5xx to MAIL, DATA or the final dot, some or all recipients refused
//       with 5xx (the accepted ones did get the message), or --starttls and
//       the server offers no STARTTLS;
//   68  the --server host name does not exist.
// When several apply, the first in this order wins: 77, 75, 69, 68.

#include <optional>
#include <string>
#include <vector>

#include "smtp/client_session.h"
#include "smtp/envelope.h"

namespace tern::relay {

struct SubmitOutcome {
  enum class Kind {
    Finished,            // the SMTP session ran to its Finished: see `finished`
    UnknownHost,         // the --server name does not resolve
    ConnectFailed,       // no address accepted a connection in time
    TlsHandshakeFailed,  // implicit TLS handshake failed (STARTTLS failures come as Finished)
    TlsNotVerified,      // the certificate did not verify (chain or host name)
    StartTlsMissing,     // --starttls, and the server did not offer it
    LocalError,          // our side failed (event loop, TLS context): `error` says how
  };
  Kind kind = Kind::LocalError;
  std::string error;                                // the sentence, for every kind but Finished
  std::optional<smtp::client::Finished> finished;   // set when the session finished a message
  smtp::ClientState stage = smtp::ClientState::Banner;  // the session's state when the decisive event came
};

struct SendmailVerdict {
  int exit_code = 0;
  std::vector<std::string> lines;  // for stderr, without newline; duplicates removed
};

SendmailVerdict judge_submission(const SubmitOutcome& outcome, const smtp::Envelope& envelope);

}  // namespace tern::relay
