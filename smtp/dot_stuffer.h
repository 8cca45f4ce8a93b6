#pragma once
// DotStuffer: the wire form of a DATA body (RFC 5321 §4.5.2), produced lazily
// as pieces that are either slices of the caller's body (never copied) or tiny
// inserted strings: "." before every line that starts with ".", CRLF when the
// body does not end with one, and the final ".\r\n". Lines end at CRLF only: a
// lone CR or LF is an ordinary byte, passed on unchanged. Nothing here fails.

#include <cstddef>
#include <optional>
#include <string_view>

namespace tern::smtp {

struct DotPiece {
  std::string_view bytes;  // from_body: a slice of the body; else a static literal
  bool from_body = false;
};

// `body` must stay alive while pieces are taken; pieces from next() point into it.
// A message kept in two places (tern's trace header fields in memory, the
// body in the spool) is stuffed as `head` then `body`, as if concatenated;
// `head` is empty or whole lines (ends with CRLF), so no line spans the seam.
class DotStuffer {
 public:
  explicit DotStuffer(std::string_view body) : body_(body) {}
  DotStuffer(std::string_view head, std::string_view body) : body_(head.empty() ? body : head) {
    if (!head.empty()) rest_ = body;
  }

  // The next piece of the wire form, nullopt once ".\r\n" has been returned.
  // Memory is O(1) whatever the body: a body of a million "." lines yields a
  // million pieces one by one instead of a list of them.
  std::optional<DotPiece> next();

 private:
  std::string_view body_;       // the segment being stuffed
  std::string_view rest_;       // the body, while body_ is the head
  std::size_t pos_ = 0;         // next body byte not yet returned
  bool stuffed_ = false;        // the "." for the line starting at pos_ has been returned
  bool done_ = false;
};

}  // namespace tern::smtp
