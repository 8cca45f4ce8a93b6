#pragma once
// submit_message(): the I/O half of `tern sendmail`. It resolves the server
// (an IP literal, or a name through getaddrinfo: blocking is fine, nothing
// else runs yet), connects to each address in turn with a timeout, runs one
// smtp::ClientSession on a private libuv loop over a Connection (implicit TLS,
// or STARTTLS which is then required), checks the certificate (chain and host
// name, or IP address, unless verify is off), sends one message, QUITs, and
// returns what happened as a SubmitOutcome (sendmail_verdict.h decides the
// exit code). It never throws; with a transcript stream it prints the SMTP
// dialogue there, AUTH secrets masked and the body summarised.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "relay/sendmail_args.h"
#include "relay/sendmail_verdict.h"
#include "smtp/envelope.h"

namespace tern::relay {

struct SubmitRequest {
  std::string host;                                   // name or IP literal, without brackets
  std::uint16_t port = 587;
  SendmailTls tls = SendmailTls::None;
  bool verify = true;                                 // false: --insecure
  std::string ca_file;                                // --cafile, "" for none
  std::optional<std::string> user;                    // AUTH when set
  std::string password;
  std::string helo_name = "localhost";
  std::chrono::milliseconds connect_timeout{30'000};  // each address
  std::chrono::milliseconds command_timeout{300'000}; // each reply (twice that after the final dot)
  std::ostream* transcript = nullptr;                 // -v: the dialogue goes here
};

// `body` has CRLF line ends; it is not copied.
SubmitOutcome submit_message(const SubmitRequest& request, const smtp::Envelope& envelope,
                             std::shared_ptr<const std::string> body);

}  // namespace tern::relay
