#pragma once
// SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463): the value
// type, its encoding (multi-line "250-..." / "250 ..."), and ReplyParser, the
// incremental parser a client feeds raw bytes. The parser trusts nothing (as
// Postfix's smtp_chat.c): the code must be three digits 2xx-5xx, every line of a
// multi-line reply must carry the same code, an enhanced code is kept only when
// its class matches the reply's first digit, and a line whose text is over
// kMaxReplyLine bytes or a reply of more than kMaxReplyLines lines is a
// protocol error, not a crash. Lines end in CRLF, or a bare LF; never a bare CR.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/result.h"

namespace tern::smtp {

// RFC 3463 class.subject.detail, e.g. 5.1.1.
struct EnhancedCode {
  int klass = 0;    // 2, 4 or 5
  int subject = 0;  // 0..999
  int detail = 0;   // 0..999

  std::string str() const;  // "5.1.1"
  // Parses "x.y.z" exactly (no trailing text); nullopt if malformed.
  static std::optional<EnhancedCode> parse(std::string_view text);
  friend bool operator==(const EnhancedCode&, const EnhancedCode&) = default;
};

enum class ReplyClass { Positive, Intermediate, Transient, Permanent };

struct Reply {
  int code = 0;                           // 200..599
  std::optional<EnhancedCode> enhanced;   // same on every line when present
  std::vector<std::string> lines;         // each line's text, without code and enhanced code; at least one

  ReplyClass klass() const;               // from the first digit
  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }

  // Wire form: every line "CODE-" but the last "CODE ", the enhanced code
  // repeated on each line when present, CRLF after each.
  std::string encode() const;
  // One line for logs and the queue's history: "451 4.7.1 try later" (lines
  // joined by a space, control characters replaced by '?').
  std::string summary() const;

  friend bool operator==(const Reply&, const Reply&) = default;
};

// Builds a one- or multi-line reply: `text` may contain '\n' to separate lines.
// enhanced is "x.y.z" or empty. A code outside 200..599, or a malformed
// enhanced code or one of another class than the code, is our bug (aborts).
Reply make_reply(int code, std::string_view enhanced, std::string_view text);

// The longest text of one reply line (after the code and enhanced code).
inline constexpr std::size_t kMaxReplyLine = 4096;   // RFC 5321 says 512; real servers send longer
inline constexpr std::size_t kMaxReplyLines = 100;

// Incremental reply parser. Feed it any split of the peer's bytes; take
// complete replies with next(). Bytes after a complete reply stay buffered.
class ReplyParser {
 public:
  void feed(std::string_view bytes);
  // nullopt: need more bytes. An Error: the peer broke the protocol (the
  // parser then stays failed and keeps returning that error).
  std::optional<Result<Reply>> next();
  std::size_t buffered() const { return buffer_.size() - pos_; }
  // Drops everything buffered (STARTTLS: plaintext after "220" must not be
  // read as if it came over TLS).
  void clear();

 private:
  std::string buffer_;
  std::size_t pos_ = 0;             // start of the reply being assembled
  std::size_t scan_ = 0;            // start of its first line not yet parsed (pos_ <= scan_)
  Reply partial_;                   // the lines of that reply parsed so far
  std::optional<Error> failed_;
};

}  // namespace tern::smtp
