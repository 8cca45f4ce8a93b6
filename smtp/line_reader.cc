#include "smtp/line_reader.h"

#include <array>

namespace tern::smtp {

namespace {

constexpr std::string_view kAuthPrefix = "AUTH ";

bool starts_with_auth(std::string_view head) {
  if (head.size() < kAuthPrefix.size()) return false;
  for (std::size_t i = 0; i < kAuthPrefix.size(); ++i) {
    char c = head[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != kAuthPrefix[i]) return false;
  }
  return true;
}

}  // namespace

std::size_t LineReader::limit_for(std::string_view head) const {
  if (auth_continuation_ || starts_with_auth(head)) return max_auth_line_;
  return max_line_;
}

void LineReader::reset() {
  partial_.clear();
  pending_cr_ = false;
  discarding_ = false;
  clear_partial_ = false;
}

LineReader::Result LineReader::feed(std::string_view in) {
  if (clear_partial_) {
    partial_.clear();
    clear_partial_ = false;
  }
  Result r;
  std::size_t start = 0;  // where discarding resumes, when a line turns out too long below
  if (!discarding_ && pending_cr_) {
    if (in.empty()) return r;
    pending_cr_ = false;
    if (in[0] != '\n') {
      r.event = Event::BareCr;
      return r;
    }
    r.consumed = 1;
    r.event = Event::Line;
    r.line = partial_;
    clear_partial_ = true;
    return r;
  }
  if (!discarding_) {
    std::size_t i = 0;
    while (i < in.size() && in[i] != '\r' && in[i] != '\n') ++i;
    const std::size_t content = partial_.size() + i;
    std::size_t limit = max_line_;
    if (content + 2 > max_line_) {
      // Rare path: only now does the line's head matter (AUTH lines may be longer).
      std::array<char, 5> head{};
      std::size_t n = 0;
      for (; n < head.size() && n < partial_.size(); ++n) head[n] = partial_[n];
      for (std::size_t k = 0; n < head.size() && k < in.size(); ++n, ++k) head[n] = in[k];
      limit = limit_for(std::string_view(head.data(), n));
    }
    if (content + 2 > limit) {
      partial_.clear();
      discarding_ = true;
      start = i;
    } else if (i == in.size()) {
      partial_.append(in);
      r.consumed = in.size();
      return r;
    } else if (in[i] == '\n') {
      r.consumed = i + 1;
      r.event = Event::BareLf;
      return r;
    } else if (i + 1 == in.size()) {  // CR at the end: wait for the next byte
      partial_.append(in.substr(0, i));
      pending_cr_ = true;
      r.consumed = in.size();
      return r;
    } else if (in[i + 1] != '\n') {
      r.consumed = i + 1;
      r.event = Event::BareCr;
      return r;
    } else {
      r.consumed = i + 2;
      r.event = Event::Line;
      if (partial_.empty()) {
        r.line = in.substr(0, i);
      } else {
        partial_.append(in.substr(0, i));
        r.line = partial_;
        clear_partial_ = true;
      }
      return r;
    }
  }
  // Discarding an over-long line: nothing is kept, bare CRs in it don't matter.
  const std::size_t lf = in.find('\n', start);
  if (lf == std::string_view::npos) {
    r.consumed = in.size();
    return r;
  }
  discarding_ = false;
  pending_cr_ = false;
  r.consumed = lf + 1;
  r.event = Event::TooLong;
  return r;
}

}  // namespace tern::smtp
