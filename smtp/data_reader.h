#pragma once
// DataReader: scans one message's text as it arrives, after DATA (ends at
// CRLF "." CRLF, leading dots removed) or as BDAT chunks (octets as sent). It
// keeps the body with its CRLFs and notes Message-ID:/Date: in the header; past
// the size limit, a line over 1000 octets or a NUL it stops storing but counts
// on to the end. A bare LF or CR stops it at once (SMTP smuggling). Never throws.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace tern::smtp {

class DataReader {
 public:
  static constexpr std::size_t kMaxTextLine = 1000;  // octets, CRLF included (RFC 5321 §4.5.3.1.6)

  enum class Framing { DotTerminated, Chunked };
  enum class Status {
    NeedMore,  // all input consumed, message not complete (Chunked: always, until finish())
    Complete,  // DotTerminated: the terminating ".\r\n" was consumed; input after it was not
    BareLf,
    BareCr,
  };
  struct Progress {
    std::size_t consumed = 0;  // bytes of the input used
    std::size_t lines = 0;     // text lines completed (for the idle timer)
    Status status = Status::NeedMore;
  };
  // What finish() concludes. Several faults: the first in this order wins.
  enum class Verdict {
    Ok,
    BareCr,        // Chunked: the last chunk ended in a CR
    TooBig,        // over max_size
    LineTooLong,   // a line over kMaxTextLine
    NulCharacter,  // a NUL octet (RFC 5322 §2.3 and RFC 6152 forbid it in 7bit/8bit text)
    Incomplete,    // finish() without Complete, or after BareLf/BareCr: our bug, refused anyway
  };

  // Begins a message. `reserve` octets are reserved for the body up front (from
  // MAIL SIZE=); the caller keeps it within max_size.
  void start(Framing framing, std::uint64_t max_size, std::uint64_t reserve = 0);
  // Scans input. After BareLf/BareCr/Complete, feed() consumes nothing more.
  Progress feed(std::string_view input);
  // Ends the message: for DATA after Complete, for BDAT after the LAST chunk (a
  // CR left pending is a bare CR; an unterminated last line gets its CRLF).
  Verdict finish();

  std::string take_body() { return std::exchange(body_, {}); }  // and the reader stores on into an empty body
  std::size_t stored() const { return body_.size(); }
  std::uint64_t size() const { return size_; }  // body octets seen, stored or not
  bool has_message_id() const { return has_message_id_; }
  bool has_date() const { return has_date_; }
  // Frees the body (a refused or abandoned message).
  void discard();

 private:
  enum class State { LineStart, DotSeen, DotCr, InLine, Cr, Done };
  enum class HeaderLine { Unknown, Name, NameWsp, Field, Continuation, NotHeader };

  void content(std::string_view run);
  void end_line();
  void classify_header(std::string_view run);
  void stop_storing();

  Framing framing_ = Framing::DotTerminated;
  State state_ = State::LineStart;
  Status final_ = Status::NeedMore;  // the status that put state_ in Done
  std::uint64_t max_size_ = 0;
  std::uint64_t size_ = 0;
  std::size_t line_len_ = 0;  // octets of the current line on the wire so far (a stuffed dot included)
  bool storing_ = true;
  bool too_big_ = false;
  bool line_too_long_ = false;
  bool nul_ = false;
  std::string body_;

  bool in_headers_ = true;
  bool line_empty_ = true;  // no content byte in the current line yet
  HeaderLine header_line_ = HeaderLine::Unknown;
  std::string header_name_;  // lower-cased head of the field name, at most kMaxNameKept
  bool has_message_id_ = false;
  bool has_date_ = false;
};

}  // namespace tern::smtp
