#include "smtp/data_reader.h"

#include <cstring>

namespace tern::smtp {

namespace {

constexpr std::size_t kMaxNameKept = 16;  // longer field names are neither Message-ID nor Date

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_ftext(char c) { return c >= 33 && c <= 126 && c != ':'; }  // RFC 5322 field-name octet

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

void DataReader::start(Framing framing, std::uint64_t max_size, std::uint64_t reserve) {
  framing_ = framing;
  state_ = State::LineStart;
  final_ = Status::NeedMore;
  max_size_ = max_size;
  size_ = 0;
  line_len_ = 0;
  storing_ = true;
  too_big_ = false;
  line_too_long_ = false;
  nul_ = false;
  body_ = std::string();
  if (reserve > 0 && reserve <= max_size) body_.reserve(static_cast<std::size_t>(reserve));
  in_headers_ = true;
  line_empty_ = true;
  header_line_ = HeaderLine::Unknown;
  header_name_.clear();
  has_message_id_ = false;
  has_date_ = false;
}

void DataReader::discard() {
  body_ = std::string();
  storing_ = false;
}

void DataReader::stop_storing() {
  // The message will be refused: keep counting to its end but hold nothing.
  storing_ = false;
  body_ = std::string();
}

void DataReader::classify_header(std::string_view run) {
  for (char c : run) {
    switch (header_line_) {
      case HeaderLine::Unknown:
        if (is_wsp(c)) {
          header_line_ = HeaderLine::Continuation;
        } else if (is_ftext(c)) {
          header_line_ = HeaderLine::Name;
          header_name_.push_back(lower(c));
        } else {
          header_line_ = HeaderLine::NotHeader;
        }
        break;
      case HeaderLine::Name:
      case HeaderLine::NameWsp:
        if (c == ':') {
          header_line_ = HeaderLine::Field;
          if (header_name_ == "message-id") has_message_id_ = true;
          if (header_name_ == "date") has_date_ = true;
        } else if (is_wsp(c)) {
          header_line_ = HeaderLine::NameWsp;  // obsolete syntax: WSP before the colon (RFC 5322 §4.5)
        } else if (is_ftext(c) && header_line_ == HeaderLine::Name) {
          if (header_name_.size() <= kMaxNameKept) header_name_.push_back(lower(c));
        } else {
          header_line_ = HeaderLine::NotHeader;
        }
        break;
      case HeaderLine::Field:
      case HeaderLine::Continuation:
      case HeaderLine::NotHeader:
        return;
    }
  }
}

void DataReader::content(std::string_view run) {
  line_empty_ = false;
  line_len_ += run.size();
  size_ += run.size();
  if (line_len_ + 2 > kMaxTextLine && !line_too_long_) {
    line_too_long_ = true;
    stop_storing();
  }
  if (size_ > max_size_ && !too_big_) {
    too_big_ = true;
    stop_storing();
  }
  if (!nul_ && std::memchr(run.data(), '\0', run.size()) != nullptr) {
    nul_ = true;
    stop_storing();
  }
  if (in_headers_) classify_header(run);
  if (storing_) body_.append(run);
}

void DataReader::end_line() {
  size_ += 2;
  if (size_ > max_size_ && !too_big_) {
    too_big_ = true;
    stop_storing();
  }
  if (storing_) body_.append("\r\n");
  if (in_headers_ && (line_empty_ || (header_line_ != HeaderLine::Field &&
                                      header_line_ != HeaderLine::Continuation))) {
    // The empty line ends the header section; so does a line that is no field
    // at all (the body started without one, as Postfix's cleanup reads it).
    in_headers_ = false;
  }
}

DataReader::Progress DataReader::feed(std::string_view in) {
  Progress p;
  if (state_ == State::Done) {
    p.status = final_;
    return p;
  }
  const std::size_t n = in.size();
  std::size_t i = 0;
  auto stop = [&](Status status, std::size_t consumed) {
    state_ = State::Done;
    final_ = status;
    p.status = status;
    p.consumed = consumed;
    if (status != Status::Complete) discard();
    return p;
  };
  while (i < n) {
    switch (state_) {
      case State::LineStart:
        line_len_ = 0;
        line_empty_ = true;
        header_line_ = HeaderLine::Unknown;
        header_name_.clear();
        if (framing_ == Framing::DotTerminated && in[i] == '.') {
          line_len_ = 1;
          state_ = State::DotSeen;
          ++i;
        } else {
          state_ = State::InLine;
        }
        break;
      case State::DotSeen:
        if (in[i] == '\r') {
          ++line_len_;
          state_ = State::DotCr;
          ++i;
        } else {
          state_ = State::InLine;  // the dot was stuffing: dropped
        }
        break;
      case State::DotCr:
        if (in[i] != '\n') return stop(Status::BareCr, i);
        return stop(Status::Complete, i + 1);
      case State::InLine: {
        // memchr (vectorised in libc) beats a byte loop several times on text lines.
        std::size_t j = n;
        if (const void* cr = std::memchr(in.data() + i, '\r', n - i)) {
          j = static_cast<std::size_t>(static_cast<const char*>(cr) - in.data());
        }
        if (const void* lf = std::memchr(in.data() + i, '\n', j - i)) {
          j = static_cast<std::size_t>(static_cast<const char*>(lf) - in.data());
        }
        if (j > i) content(in.substr(i, j - i));
        i = j;
        if (i == n) break;
        if (in[i] == '\n') return stop(Status::BareLf, i + 1);
        ++line_len_;
        state_ = State::Cr;
        ++i;
        break;
      }
      case State::Cr:
        if (in[i] != '\n') return stop(Status::BareCr, i);
        ++i;
        end_line();
        ++p.lines;
        state_ = State::LineStart;
        break;
      case State::Done:
        return stop(final_, i);
    }
  }
  p.consumed = n;
  return p;
}

DataReader::Verdict DataReader::finish() {
  if (framing_ == Framing::Chunked && state_ != State::Done) {
    if (state_ == State::Cr) {
      state_ = State::Done;
      final_ = Status::BareCr;
      discard();
      return Verdict::BareCr;
    }
    // RFC 3030 does not make the last chunk end in CRLF; the stored message is
    // a sequence of CRLF lines (our client's dot-stuffing relies on it).
    if (state_ == State::InLine) end_line();
    state_ = State::Done;
    final_ = Status::Complete;
  }
  if (state_ != State::Done || final_ == Status::BareCr || final_ == Status::BareLf) {
    discard();
    return Verdict::Incomplete;
  }
  if (too_big_) return Verdict::TooBig;
  if (line_too_long_) return Verdict::LineTooLong;
  if (nul_) return Verdict::NulCharacter;
  return Verdict::Ok;
}

}  // namespace tern::smtp
