#pragma once
// LineReader: splits an SMTP command stream into CRLF lines, holding at most
// one line limit of bytes whatever the peer sends. A line over the limit (512
// octets with CRLF, RFC 5321 §4.5.3.1.4; "AUTH " lines 12288, RFC 4954 §4) is
// dropped up to the next LF and reported as TooLong; a bare LF or CR is
// reported at once. It knows nothing of commands beyond the "AUTH " prefix.

#include <cstddef>
#include <string>
#include <string_view>

namespace tern::smtp {

class LineReader {
 public:
  static constexpr std::size_t kMaxCommandLine = 512;  // octets, CRLF included
  static constexpr std::size_t kMaxAuthLine = 12288;   // AUTH command and continuation lines

  enum class Event {
    NeedMore,  // everything given was consumed; no complete line yet
    Line,      // `line` holds one line without its CRLF
    TooLong,   // a line over its limit ended (its LF consumed); its bytes are gone
    BareLf,    // LF without CR before it
    BareCr,    // CR followed by something other than LF
  };
  struct Result {
    std::size_t consumed = 0;  // bytes of the input used; feed the rest again
    Event event = Event::NeedMore;
    std::string_view line;     // valid until the next call of feed() or reset()
  };

  LineReader(std::size_t max_line = kMaxCommandLine, std::size_t max_auth_line = kMaxAuthLine)
      : max_line_(max_line), max_auth_line_(max_auth_line) {}

  // Consumes input up to and including the first event; call again with the rest.
  Result feed(std::string_view input);
  // While set, every line may be max_auth_line long (an AUTH exchange is under way).
  void set_auth_continuation(bool on) { auth_continuation_ = on; }
  // Forgets any partial line (STARTTLS: nothing sent before the handshake counts).
  void reset();
  // Bytes held for an incomplete line.
  std::size_t buffered() const { return partial_.size(); }

 private:
  std::size_t limit_for(std::string_view head) const;

  std::size_t max_line_;
  std::size_t max_auth_line_;
  bool auth_continuation_ = false;
  std::string partial_;        // content of the incomplete line (no CR)
  bool pending_cr_ = false;    // the incomplete line's last byte was a CR
  bool discarding_ = false;    // over the limit: dropping bytes up to the next LF
  bool clear_partial_ = false; // partial_ was handed out as a Line: clear on the next feed
};

}  // namespace tern::smtp
