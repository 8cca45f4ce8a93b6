#include "smtp/dot_stuffer.h"

namespace tern::smtp {

std::optional<DotPiece> DotStuffer::next() {
  if (done_) return std::nullopt;
  if (pos_ < body_.size()) {
    // pos_ is 0 or the start of a line that begins with "." (where the last
    // slice stopped), so only that line can need a dot before the next slice.
    const bool line_start = pos_ == 0 || (body_[pos_ - 2] == '\r' && body_[pos_ - 1] == '\n');
    if (line_start && body_[pos_] == '.' && !stuffed_) {
      stuffed_ = true;
      return DotPiece{".", false};
    }
    const std::size_t hit = body_.find("\r\n.", pos_);
    const std::size_t end = hit == std::string_view::npos ? body_.size() : hit + 2;
    DotPiece piece{body_.substr(pos_, end - pos_), true};
    pos_ = end;
    stuffed_ = false;
    return piece;
  }
  if (!rest_.empty()) {  // the head is out (it ended with CRLF): the body starts a line
    body_ = rest_;
    rest_ = {};
    pos_ = 0;
    stuffed_ = false;
    return next();
  }
  done_ = true;
  // An empty body is just the terminator; a body cut mid-line gets its CRLF
  // first, otherwise the "." would extend the last line instead of ending DATA.
  // (body_ is the last segment now: the body, or the head when the body is empty.)
  if (body_.empty() || body_.ends_with("\r\n")) return DotPiece{".\r\n", false};
  return DotPiece{"\r\n.\r\n", false};
}

}  // namespace tern::smtp
