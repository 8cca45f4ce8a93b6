// `tern sendmail`: sendmail(8) for apps in containers. Parses the command
// line, loads the config for its defaults, reads the message on stdin, works
// out the envelope, submits over SMTP and exits with a sysexits code
// (sendmail_verdict.h has the policy). Silent on success unless -v.
//
// Exit codes beyond the verdict's: 64 bad usage (including --user without
// TLS: a password never goes out in clear), 65 bad message (too big, no
// recipients, bad address), 66 unreadable --password-file, 74 stdin read
// error, 78 bad configuration.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "relay/cli.h"
#include "relay/config.h"
#include "relay/exit_codes.h"
#include "relay/secret_file.h"
#include "relay/sendmail_args.h"
#include "relay/sendmail_defaults.h"
#include "relay/sendmail_input.h"
#include "relay/sendmail_message.h"
#include "relay/sendmail_submit.h"
#include "relay/sendmail_verdict.h"

namespace tern::relay {
namespace {


int say(int code, const std::string& message) {
  std::cerr << "tern sendmail: " << message << "\n";
  return code;
}

// Prints each line of a possibly multi-line message (config errors).
int say_lines(int code, const std::string& message) {
  std::istringstream in(message);
  for (std::string line; std::getline(in, line);) std::cerr << "tern sendmail: " << line << "\n";
  return code;
}

// stdin through the MessageReader: Permanent error = too big (65), Transient = read error (74).
Result<std::string> read_message(bool dot_ends_input, std::uint64_t max_bytes) {
  MessageReader reader(dot_ends_input, max_bytes);
  std::string buf(64 * 1024, '\0');
  while (!reader.complete()) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::transient(std::string("cannot read the message from stdin: ") + std::strerror(errno));
    if (n == 0) break;
    if (Status st = reader.feed(std::string_view(buf.data(), static_cast<std::size_t>(n))); !st) return st.error();
  }
  if (Status st = reader.finish(); !st) return st.error();
  return reader.take();
}

bool has_8bit(std::string_view data) {
  for (char c : data) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

}  // namespace

int run_sendmail(const std::vector<std::string>& argv) {
  // A server that hangs up mid-write must be an error to report, not a signal that kills us.
  ::signal(SIGPIPE, SIG_IGN);

  auto parsed = parse_sendmail_args(argv);
  if (!parsed) return say(kExUsage, parsed.error().message() + " (see tern sendmail --help)");
  const SendmailArgs& args = *parsed;
  if (args.help) {
    std::cout << sendmail_usage();
    return kExOk;
  }
  if (args.verbose) {
    for (const std::string& option : args.ignored) say(0, "ignoring " + option + " (accepted for compatibility)");
  }
  if (args.user && !args.password_file) return say(kExUsage, "--user needs --password-file");
  if (args.password_file && !args.user) return say(kExUsage, "--password-file needs --user");
  if (args.user && args.tls == SendmailTls::None) {
    return say(kExUsage, "refusing to send a password in clear: --user needs --tls or --starttls");
  }
  if (args.insecure && args.tls != SendmailTls::None) {
    say(0, "warning: --insecure: the server's certificate is not verified; anyone in the path can read the mail");
  }

  CommonOptions common;
  common.config_path = args.config_path;
  auto config = load_config_for(common);
  if (!config) return say_lines(kExConfig, config.error().message());
  const SendmailDefaults defaults = sendmail_defaults(*config);

  HostPort server;
  if (args.server) {
    auto hp = parse_host_port(*args.server);
    if (!hp) return say(kExUsage, "--server: " + hp.error().message());
    server = *hp;
  } else if (defaults.server) {
    server = *defaults.server;
  } else {
    return say(kExUsage, "no submission.listen address in the config: give --server HOST:PORT");
  }

  std::string password;
  if (args.password_file) {
    auto pw = read_secret_file(*args.password_file);
    if (!pw) return say(kExNoInput, pw.error().message());
    password = std::move(*pw);
  }

  auto raw = read_message(args.dot_ends_input, defaults.max_message_bytes);
  if (!raw) return say(raw.error().is_permanent() ? kExDataErr : kExIoErr, raw.error().message());

  // The sender: -f, else the login name at our host name.
  std::optional<smtp::Mailbox> identity;  // who we are, for a From: we add
  if (auto login = login_name()) {
    auto me = parse_sender(*login, defaults.hostname);
    if (me && !me->is_null()) identity = me->mailbox;
  }
  smtp::Path sender;
  if (args.sender) {
    auto s = parse_sender(*args.sender, defaults.hostname);
    if (!s) return say(kExDataErr, s.error().message());
    sender = std::move(*s);
  } else if (identity) {
    sender.mailbox = identity;
  } else {
    return say(kExUsage, "cannot tell who is sending (no $LOGNAME, $USER or user name for this uid): use -f FROM");
  }

  PrepareOptions prep;
  prep.extract_recipients = args.recipients_from_headers;
  prep.default_domain = defaults.hostname;
  const std::optional<smtp::Mailbox>& from_mailbox = sender.is_null() ? identity : sender.mailbox;
  if (from_mailbox) {
    auto header = make_from_header(args.full_name, *from_mailbox);
    if (!header) return say(kExUsage, header.error().message());
    prep.from_header = std::move(*header);
  }
  auto message = prepare_message(*raw, prep);
  if (!message) return say(kExDataErr, message.error().message());
  raw->clear();
  if (message->data.size() > defaults.max_message_bytes) {
    return say(kExDataErr, "message too big: more than " + std::to_string(defaults.max_message_bytes) + " bytes");
  }

  smtp::Envelope envelope;
  envelope.sender = sender;
  std::set<std::string> seen;
  auto add = [&](const smtp::Mailbox& m) {
    if (seen.insert(m.local + "@" + m.domain_key()).second) envelope.recipients.push_back(smtp::Recipient{m, {}});
  };
  for (const std::string& operand : args.recipients) {
    auto list = parse_address_list(operand, defaults.hostname);
    if (!list) return say(kExDataErr, list.error().message());
    if (list->empty()) return say(kExDataErr, "invalid address \"" + operand + "\": empty");
    for (const auto& m : *list) add(m);
  }
  for (const auto& m : message->recipients) add(m);
  if (envelope.recipients.empty()) return say(kExDataErr, "no recipients");

  bool utf8 = sender.mailbox && smtp::has_non_ascii(sender.mailbox->str());
  for (const auto& r : envelope.recipients) utf8 = utf8 || smtp::has_non_ascii(r.mailbox.str());
  envelope.params.smtputf8 = utf8;
  if (has_8bit(message->data)) envelope.params.body = smtp::BodyType::EightBitMime;

  SubmitRequest request;
  request.host = server.host;
  request.port = server.port;
  request.tls = args.tls;
  request.verify = !args.insecure;
  request.ca_file = args.ca_file.value_or("");
  request.user = args.user;
  request.password = std::move(password);
  request.helo_name = defaults.hostname;
  if (args.timeout) request.connect_timeout = request.command_timeout = *args.timeout;
  if (args.verbose) request.transcript = &std::cerr;

  auto body = std::make_shared<const std::string>(std::move(message->data));
  const SubmitOutcome outcome = submit_message(request, envelope, body);
  const SendmailVerdict verdict = judge_submission(outcome, envelope);
  for (const std::string& line : verdict.lines) std::cerr << line << "\n";
  if (verdict.exit_code == kExOk && args.verbose) {
    say(0, "sent to " + std::to_string(envelope.recipients.size()) + " recipient(s) via " + server.str());
  }
  return verdict.exit_code;
}

}  // namespace tern::relay
