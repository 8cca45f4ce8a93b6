#pragma once
// The command line of `tern sendmail`, parsed the way sendmail(8) and Postfix's
// sendmail do: grouped short flags (-ti), option values attached or separate
// (-fFROM, -f FROM), -oXXX and friends accepted and ignored, options anywhere
// before "--" (the rest are recipients), plus tern's long options (--server,
// --starttls, ...). It only parses: no file is read and no address is checked
// here. A bad command line is an Error with one sentence for the user (EX_USAGE).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "smtp/result.h"

namespace tern::relay {

enum class SendmailTls {
  None,      // plain SMTP (the default: the local tern on loopback)
  StartTls,  // --starttls: STARTTLS must be offered and succeed
  Implicit,  // --tls: TLS from the first byte (port 465)
};

struct SendmailArgs {
  bool recipients_from_headers = false;      // -t: To/Cc/Bcc recipients, added to the command line's
  bool dot_ends_input = true;                // false with -i / -oi: a lone "." line is ordinary text
  std::optional<std::string> sender;         // -f FROM / -r FROM, as given ("" and "<>" mean the null sender)
  std::optional<std::string> full_name;      // -F NAME: display name for a From: header we add
  bool verbose = false;                      // -v: SMTP dialogue on stderr, AUTH masked
  std::vector<std::string> recipients;       // operands, as given
  std::vector<std::string> ignored;          // options accepted for compatibility only ("-odi", "-bm")

  std::optional<std::string> server;         // --server HOST:PORT
  SendmailTls tls = SendmailTls::None;       // --tls / --starttls
  std::optional<std::string> user;           // --user U (AUTH)
  std::optional<std::string> password_file;  // --password-file F
  std::optional<std::string> ca_file;        // --cafile F, trusted in addition to the system store
  bool insecure = false;                     // --insecure: no certificate verification
  std::optional<std::string> config_path;    // --config FILE
  std::optional<std::chrono::milliseconds> timeout;  // --timeout DURATION: connect and each reply
  bool help = false;                         // --help
};

// Parses the arguments after "sendmail". Errors (EX_USAGE) read like
// "option -f needs a value", "unsupported mode -bs: tern sendmail only submits mail".
Result<SendmailArgs> parse_sendmail_args(const std::vector<std::string>& args);

// --timeout: the config's duration syntax (duration.h: "30s", "5m", "1h30m",
// "500ms"; a bare number is ambiguous, so an error), from 1 ms to one day.
Result<std::chrono::milliseconds> parse_sendmail_timeout(const std::string& text);

// The usage text for --help and usage errors.
const char* sendmail_usage();

}  // namespace tern::relay
