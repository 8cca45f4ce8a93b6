// sendmail(8) command line. See sendmail_args.h.
//
// The short options are Postfix's set ("B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx"),
// because programs were written against it: cron passes -FCronDaemon -i
// -B8BITMIME -oem, mutt -B8BITMIME -N, PHP -t -i. Options that change only
// how a local MTA would queue or report (-odi, -oem, -B, -N, -R, -V, ...) are
// accepted and ignored; options that ask for another mode (-bs, -bp, -q, -I)
// are refused, since tern sendmail only submits.
#include "relay/sendmail_args.h"

#include <string_view>

#include "relay/duration.h"

namespace tern::relay {
namespace {

Error usage(std::string message) { return Error::permanent(std::move(message)); }

// Short options taking a value, and those that take none.
constexpr std::string_view kWithValue = "BCFLNORVXbefhopqr";
constexpr std::string_view kFlags = "GIUcimntvx";

enum class LongKind { Value, Flag };
struct LongOption {
  std::string_view name;
  LongKind kind;
};
constexpr LongOption kLongOptions[] = {
    {"server", LongKind::Value},   {"tls", LongKind::Flag},          {"starttls", LongKind::Flag},
    {"user", LongKind::Value},     {"password-file", LongKind::Value}, {"cafile", LongKind::Value},
    {"insecure", LongKind::Flag},  {"config", LongKind::Value},      {"timeout", LongKind::Value},
    {"help", LongKind::Flag},
};

Status apply_long(SendmailArgs& out, std::string_view name, const std::string& value) {
  if (name == "server") {
    out.server = value;
  } else if (name == "tls" || name == "starttls") {
    SendmailTls want = name == "tls" ? SendmailTls::Implicit : SendmailTls::StartTls;
    if (out.tls != SendmailTls::None && out.tls != want) return usage("--tls and --starttls exclude each other");
    out.tls = want;
  } else if (name == "user") {
    out.user = value;
  } else if (name == "password-file") {
    out.password_file = value;
  } else if (name == "cafile") {
    out.ca_file = value;
  } else if (name == "insecure") {
    out.insecure = true;
  } else if (name == "config") {
    out.config_path = value;
  } else if (name == "timeout") {
    auto t = parse_sendmail_timeout(value);
    if (!t) return usage("--timeout: " + t.error().message());
    out.timeout = *t;
  } else if (name == "help") {
    out.help = true;
  }
  return {};
}

Status apply_short(SendmailArgs& out, char option, const std::string& value) {
  const std::string shown = std::string("-") + option + value;
  switch (option) {
    case 't':
      out.recipients_from_headers = true;
      return {};
    case 'i':
      out.dot_ends_input = false;
      return {};
    case 'v':
      out.verbose = true;
      return {};
    case 'f':
    case 'r':
      out.sender = value;
      return {};
    case 'F':
      out.full_name = value;
      return {};
    case 'o':
      if (value == "i") {
        out.dot_ends_input = false;
      } else {
        out.ignored.push_back(shown);
      }
      return {};
    case 'b':
      if (value == "m") {
        out.ignored.push_back(shown);
        return {};
      }
      return usage("unsupported mode " + shown + ": tern sendmail only submits mail (-bm)");
    case 'q':
      return usage("unsupported option " + shown + ": tern sendmail keeps no local queue (see `tern queue`)");
    case 'I':
      return usage("unsupported option -I: tern sendmail has no aliases database");
    default:
      out.ignored.push_back(shown);
      return {};
  }
}

}  // namespace

Result<SendmailArgs> parse_sendmail_args(const std::vector<std::string>& args) {
  SendmailArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.recipients.insert(out.recipients.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {  // an operand ("-" alone too): a recipient
      out.recipients.push_back(arg);
      continue;
    }
    if (arg[1] == '-') {
      std::string_view body = std::string_view(arg).substr(2);
      std::size_t eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      const LongOption* found = nullptr;
      for (const LongOption& o : kLongOptions) {
        if (o.name == name) found = &o;
      }
      if (found == nullptr) return usage("unknown option --" + std::string(name));
      std::string value;
      if (found->kind == LongKind::Value) {
        if (eq != std::string_view::npos) {
          value = std::string(body.substr(eq + 1));
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return usage("option --" + std::string(name) + " needs a value");
        }
      } else if (eq != std::string_view::npos) {
        return usage("option --" + std::string(name) + " takes no value");
      }
      if (Status st = apply_long(out, name, value); !st) return st.error();
      continue;
    }
    // A group of short options: flags, then at most one option with a value,
    // which takes the rest of the word or the next word.
    for (std::size_t k = 1; k < arg.size(); ++k) {
      const char c = arg[k];
      if (kFlags.find(c) != std::string_view::npos) {
        if (Status st = apply_short(out, c, ""); !st) return st.error();
        continue;
      }
      if (kWithValue.find(c) == std::string_view::npos) {
        return usage(std::string("unknown option -") + c);
      }
      std::string value;
      if (k + 1 < arg.size()) {
        value = arg.substr(k + 1);
      } else if (c == 'q') {
        value.clear();  // "-q" alone is sendmail's "run the queue": refused below either way
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return usage(std::string("option -") + c + " needs a value");
      }
      if (Status st = apply_short(out, c, value); !st) return st.error();
      break;
    }
  }
  return out;
}

Result<std::chrono::milliseconds> parse_sendmail_timeout(const std::string& text) {
  constexpr std::chrono::milliseconds kMax = std::chrono::hours(24);
  auto d = parse_duration(text);
  if (!d) return d.error();
  if (d->count() < 1) return Error::permanent("\"" + text + "\" is not a usable timeout: it must be positive");
  if (*d > kMax) return Error::permanent("\"" + text + "\" is not a usable timeout: at most 24h");
  return *d;
}

const char* sendmail_usage() {
  return "usage: tern sendmail [-t] [-i] [-f FROM] [-F NAME] [-v] [--server HOST:PORT]\n"
         "                     [--tls | --starttls] [--user U --password-file F] [--cafile F]\n"
         "                     [--insecure] [--timeout DURATION] [--config FILE] [--] [RCPT...]\n"
         "Reads an RFC 5322 message on stdin and submits it over SMTP.\n"
         "  -t                 also send to the To:, Cc: and Bcc: addresses (Bcc: is removed)\n"
         "  -i, -oi            a line with a single \".\" does not end the message\n"
         "  -f FROM, -r FROM   envelope sender (\"<>\" for none); default $LOGNAME@hostname\n"
         "  -F NAME            full name for the From: header added when the message has none\n"
         "  -v                 print the SMTP dialogue on stderr (AUTH masked)\n"
         "  --server HOST:PORT submission server; default the local tern (submission.listen)\n"
         "  --tls | --starttls implicit TLS / STARTTLS (required); certificates are verified\n"
         "  --user U --password-file F   AUTH (needs TLS); the file loses one trailing newline\n"
         "  --cafile F         trust this CA too; --insecure skips verification (warned)\n"
         "  --timeout D        connect and reply timeout, e.g. 30s (default 30s connect, 5m reply)\n"
         "Other sendmail options (-oXXX, -bm, -B, -N, ...) are accepted and ignored.\n"
         "Exit codes (sysexits): 0 sent, 64 usage, 65 bad message, 69 refused, 75 try later, 77 denied.\n";
}

}  // namespace tern::relay
