// Writing tern's Received: field. Reading fields back is received_parser.cc.
#include "smtp/received.h"

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/mail_date.h"

namespace tern::smtp {
namespace {

constexpr size_t kFoldAt = 78;  // RFC 5322 §2.1.1: lines SHOULD be at most 78 characters

bool is_special(char c) {
  switch (c) {
    case '(':
    case ')':
    case '<':
    case '>':
    case ';':
    case '"':
    case '\\':
      return true;
    default:
      return false;
  }
}

bool is_control_or_space(unsigned char u) { return u <= 0x20 || u == 0x7f; }

bool is_hostname_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

// A reverse name is written only when it is a host name (so the parser cannot
// take it for an address or a HELO report) and says something.
bool writable_reverse_name(std::string_view name) {
  if (name.empty()) return false;
  bool has_letter = false;
  for (char c : name) {
    if (!is_hostname_char(c)) return false;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) has_letter = true;
  }
  if (!has_letter) return false;
  if (name.back() == '.') name.remove_suffix(1);
  std::string lowered;
  for (char c : name) lowered += static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return lowered != "unknown";  // Postfix's word for "no reverse name"
}

// The client address as written inside brackets: hex digits, '.' and ':'
// only; IPv6 gets the "IPv6:" tag of RFC 5321 §4.1.3.
std::string address_literal(std::string_view ip) {
  std::string clean;
  bool v6 = false;
  for (char c : ip) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (c == ':') v6 = true;
    clean += (hex || c == '.' || c == ':') ? c : '?';
  }
  return "[" + std::string(v6 ? "IPv6:" : "") + clean + "]";
}

// The recipient inside <>: anything printable except the angle brackets that
// delimit it and ';', which ends the clauses (a quoted local part may hold spaces).
std::string recipient_text(std::string_view rcpt) {
  std::string out;
  for (char c : rcpt) {
    auto u = static_cast<unsigned char>(c);
    bool bad = u < 0x20 || u == 0x7f || c == '<' || c == '>' || c == ';';
    out += bad ? '?' : c;
  }
  return out;
}

// Packs pieces onto lines: each group starts a new line, and a piece that
// would pass column 78 goes to a continuation line of its own.
class Folder {
 public:
  explicit Folder(std::string name) : out_(std::move(name)), column_(out_.size()) {}

  void group(const std::string& piece) {
    if (first_) {
      first_ = false;
      out_ += ' ';
      out_ += piece;
      column_ += 1 + piece.size();
    } else {
      new_line(piece);
    }
  }

  void add(const std::string& piece) {
    if (column_ + 1 + piece.size() > kFoldAt) {
      new_line(piece);
    } else {
      out_ += ' ';
      out_ += piece;
      column_ += 1 + piece.size();
    }
  }

  std::string finish() && {
    out_ += "\r\n";
    return std::move(out_);
  }

 private:
  void new_line(const std::string& piece) {
    out_ += "\r\n\t";
    out_ += piece;
    column_ = 1 + piece.size();
  }

  std::string out_;
  size_t column_;
  bool first_ = true;
};

}  // namespace

std::string_view to_string(ReceivedProtocol p) {
  switch (p) {
    case ReceivedProtocol::Smtp:
      return "SMTP";
    case ReceivedProtocol::Esmtp:
      return "ESMTP";
    case ReceivedProtocol::Esmtps:
      return "ESMTPS";
    case ReceivedProtocol::Esmtpa:
      return "ESMTPA";
    case ReceivedProtocol::Esmtpsa:
      return "ESMTPSA";
  }
  return "ESMTP";
}

ReceivedProtocol received_protocol(bool ehlo, bool tls, bool authenticated) {
  if (!ehlo) return ReceivedProtocol::Smtp;
  if (tls && authenticated) return ReceivedProtocol::Esmtpsa;
  if (tls) return ReceivedProtocol::Esmtps;
  if (authenticated) return ReceivedProtocol::Esmtpa;
  return ReceivedProtocol::Esmtp;
}

std::string received_token(std::string_view text) {
  if (text.empty()) return "unknown";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    bool bad = is_control_or_space(static_cast<unsigned char>(c)) || is_special(c);
    out += bad ? '?' : c;
  }
  return out;
}

std::string format_received(const ReceivedFields& f) {
  Folder fold("Received:");

  // The TCP-info comment is always written, so the TLS comment after it is
  // never read as one.
  fold.group("from " + received_token(f.helo));
  if (f.client_ip.empty()) {
    fold.add("(unknown)");
  } else {
    std::string literal = address_literal(f.client_ip);
    if (f.reverse_name && writable_reverse_name(*f.reverse_name)) {
      fold.add("(" + *f.reverse_name);
      fold.add(literal + ")");
    } else {
      fold.add("(" + literal + ")");
    }
  }

  if (f.tls) {
    fold.group("(using");
    fold.add(received_token(f.tls->version));
    fold.add("with");
    fold.add("cipher");
    fold.add(received_token(f.tls->cipher) + ")");
  }

  bool has_for = f.for_rcpt && !f.for_rcpt->empty();
  std::vector<std::string> by_pieces = {"by " + received_token(f.by), "(tern)",
                                        "with " + std::string(to_string(f.protocol))};
  if (!f.id.empty()) by_pieces.push_back("id " + received_token(f.id));
  if (!has_for) by_pieces.back() += ';';
  fold.group(by_pieces.front());
  for (size_t i = 1; i < by_pieces.size(); ++i) fold.add(by_pieces[i]);

  std::string date = format_mail_date(std::chrono::floor<std::chrono::seconds>(f.time));
  if (has_for) {
    fold.group("for <" + recipient_text(*f.for_rcpt) + ">;");
    fold.add(date);
  } else {
    fold.group(date);
  }
  return std::move(fold).finish();
}

}  // namespace tern::smtp
