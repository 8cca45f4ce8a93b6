#pragma once
// MessageReader: the message `tern sendmail` reads on stdin, fed in chunks of
// any size, turned into SMTP's line form: every line ends in CRLF, whether it
// came with LF, CRLF or a lone CR, so nothing bare reaches the wire (SMTP
// smuggling). Without -i, a line holding a single "." ends the message, as in
// traditional sendmail; the rest of the input is ignored. It holds at most
// max_bytes of output: one byte more and feed() fails (EX_DATAERR), so memory
// stays bounded whatever arrives. It does not look at headers (see sendmail_message.h).

#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::relay {

class MessageReader {
 public:
  MessageReader(bool dot_ends_input, std::uint64_t max_bytes)
      : dot_ends_input_(dot_ends_input), max_bytes_(max_bytes) {}

  // Takes the next bytes of input. An Error: the message is over max_bytes
  // (the reader is then done; the caller stops reading).
  Status feed(std::string_view bytes);
  // End of input: completes a last line that had no line end.
  Status finish();
  // A lone "." line was read: the message is complete, stop reading.
  bool complete() const { return complete_; }

  const std::string& message() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  Status end_line();
  Status put(std::string_view bytes);

  bool dot_ends_input_;
  std::uint64_t max_bytes_;
  std::string out_;
  std::size_t line_start_ = 0;   // offset in out_ of the line being read
  bool pending_cr_ = false;      // the last byte was CR: a following LF belongs to it
  bool complete_ = false;
  bool failed_ = false;
};

}  // namespace tern::relay
