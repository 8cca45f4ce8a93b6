// Reply values, their wire form, and the incremental ReplyParser. The parser
// keeps the bytes of the reply it is assembling (so buffered() counts them)
// but parses each complete line once, so a server trickling a long multi-line
// reply byte by byte costs linear time, not quadratic.
#include "smtp/reply.h"

#include <cstdlib>
#include <utility>

namespace tern::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads 1..3 digits at text[i]; advances i. -1 when there is no digit.
int read_number(std::string_view text, std::size_t& i) {
  std::size_t start = i;
  int value = 0;
  while (i < text.size() && i - start < 3 && is_digit(text[i])) {
    value = value * 10 + (text[i] - '0');
    ++i;
  }
  return i == start ? -1 : value;
}

// The longest prefix of a line that can be "c.sss.ddd " (the enhanced code).
constexpr std::size_t kMaxEnhancedPrefix = 10;
// The longest line, without its line end, whose text fits in kMaxReplyLine.
constexpr std::size_t kMaxRawLine = 4 + kMaxEnhancedPrefix + kMaxReplyLine;

// When `text` starts with an enhanced code of class `klass` followed by a
// space or the end, returns the code and sets `rest` to the text after it.
std::optional<EnhancedCode> leading_enhanced(std::string_view text, int klass, std::string_view& rest) {
  std::size_t end = text.find(' ');
  std::string_view token = text.substr(0, end);
  auto code = EnhancedCode::parse(token);
  if (!code || code->klass != klass) return std::nullopt;
  rest = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  return code;
}

// A short, printable excerpt of peer input for an error message.
std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (std::size_t i = 0; i < line.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    out += (c < 32 || c >= 127) ? '?' : static_cast<char>(c);
  }
  if (line.size() > kMax) out += "...";
  return out;
}

Error protocol_error(std::string what) { return Error::transient("protocol error: " + std::move(what)); }

}  // namespace

std::string EnhancedCode::str() const {
  return std::to_string(klass) + '.' + std::to_string(subject) + '.' + std::to_string(detail);
}

std::optional<EnhancedCode> EnhancedCode::parse(std::string_view text) {
  // RFC 3463: class "." subject "." detail; class 2/4/5, 1*3digit each after.
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return std::nullopt;
  }
  EnhancedCode code;
  code.klass = text[0] - '0';
  std::size_t i = 2;
  code.subject = read_number(text, i);
  if (code.subject < 0 || i >= text.size() || text[i] != '.') return std::nullopt;
  ++i;
  code.detail = read_number(text, i);
  if (code.detail < 0 || i != text.size()) return std::nullopt;
  return code;
}

ReplyClass Reply::klass() const {
  if (code < 300) return ReplyClass::Positive;
  if (code < 400) return ReplyClass::Intermediate;
  if (code < 500) return ReplyClass::Transient;
  return ReplyClass::Permanent;
}

std::string Reply::encode() const {
  static const std::string kEmpty;
  std::string code_text = std::to_string(code);
  std::string enhanced_text = enhanced ? enhanced->str() : std::string();
  std::size_t count = lines.empty() ? 1 : lines.size();
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& text = lines.empty() ? kEmpty : lines[i];
    bool last = i + 1 == count;
    out += code_text;
    if (!enhanced_text.empty()) {
      out += last ? ' ' : '-';
      out += enhanced_text;
      if (!text.empty()) {
        out += ' ';
        out += text;
      }
    } else if (!text.empty()) {
      out += last ? ' ' : '-';
      out += text;
    } else if (!last) {
      out += '-';  // "250-" continues; a bare "250" ends the reply
    }
    out += "\r\n";
  }
  return out;
}

std::string Reply::summary() const {
  std::string out = std::to_string(code);
  if (enhanced) {
    out += ' ';
    out += enhanced->str();
  }
  std::string text;
  for (const auto& line : lines) {
    if (line.empty()) continue;
    if (!text.empty()) text += ' ';
    text += line;
  }
  if (!text.empty()) {
    out += ' ';
    out += text;
  }
  for (auto& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) c = '?';
  }
  return out;
}

Reply make_reply(int code, std::string_view enhanced, std::string_view text) {
  Reply reply;
  if (code < 200 || code > 599) std::abort();  // our bug: no such reply code
  reply.code = code;
  if (!enhanced.empty()) {
    reply.enhanced = EnhancedCode::parse(enhanced);
    // A malformed code, or one whose class disagrees with the reply code
    // (which a peer's parser would not recognise), is our bug.
    if (!reply.enhanced || reply.enhanced->klass != code / 100) std::abort();
  }
  std::size_t start = 0;
  while (true) {
    std::size_t nl = text.find('\n', start);
    reply.lines.emplace_back(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return reply;
}

void ReplyParser::feed(std::string_view bytes) {
  if (failed_) return;  // nothing after a protocol error is worth keeping
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  buffer_.append(bytes);
}

void ReplyParser::clear() {
  buffer_.clear();
  pos_ = 0;
  scan_ = 0;
  partial_ = Reply{};
}

std::optional<Result<Reply>> ReplyParser::next() {
  if (failed_) return Result<Reply>(*failed_);
  auto fail = [this](Error error) -> std::optional<Result<Reply>> {
    failed_ = std::move(error);
    buffer_.clear();
    pos_ = scan_ = 0;
    partial_ = Reply{};
    return Result<Reply>(*failed_);
  };
  std::string_view buffer(buffer_);
  while (true) {
    std::size_t lf = buffer.find('\n', scan_);
    if (lf == std::string_view::npos) {
      // Fail early on a line that can no longer fit, whatever follows it
      // (+1: its CR may be here while the LF is not).
      if (buffer.size() - scan_ > kMaxRawLine + 1) {
        return fail(protocol_error("reply line longer than " + std::to_string(kMaxReplyLine) + " bytes"));
      }
      return std::nullopt;
    }
    // CRLF ends a line; so does a bare LF (lenient, as Postfix's client). A
    // bare CR never does: it stays in the text.
    std::string_view line = buffer.substr(scan_, lf - scan_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    scan_ = lf + 1;
    // Checked first so that the error does not depend on how the bytes were
    // split (the early check above may already have reported it).
    if (line.size() > kMaxRawLine) {
      return fail(protocol_error("reply line longer than " + std::to_string(kMaxReplyLine) + " bytes"));
    }

    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
        (line.size() > 3 && line[3] != '-' && line[3] != ' ')) {
      return fail(protocol_error("malformed reply line \"" + excerpt(line) + "\""));
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599) {
      return fail(protocol_error("reply code " + std::string(line.substr(0, 3)) + " out of range in \"" +
                                 excerpt(line) + "\""));
    }
    bool last = line.size() == 3 || line[3] == ' ';
    std::string_view text = line.size() > 3 ? line.substr(4) : std::string_view{};

    if (partial_.lines.empty()) {
      partial_.code = code;
      std::string_view rest;
      partial_.enhanced = leading_enhanced(text, code / 100, rest);
      if (partial_.enhanced) text = rest;
    } else {
      if (code != partial_.code) {
        return fail(protocol_error("reply code " + std::to_string(code) + " in a multi-line " +
                                   std::to_string(partial_.code) + " reply"));
      }
      if (partial_.lines.size() >= kMaxReplyLines) {
        return fail(protocol_error("reply of more than " + std::to_string(kMaxReplyLines) + " lines"));
      }
      // Lines repeating the reply's enhanced code lose it; lines without one
      // (or with another) keep their text as sent.
      std::string_view rest;
      if (partial_.enhanced) {
        auto here = leading_enhanced(text, code / 100, rest);
        if (here && *here == *partial_.enhanced) text = rest;
      }
    }
    if (text.size() > kMaxReplyLine) {
      return fail(protocol_error("reply line longer than " + std::to_string(kMaxReplyLine) + " bytes"));
    }
    partial_.lines.emplace_back(text);
    if (last) {
      pos_ = scan_;
      Reply done = std::move(partial_);
      partial_ = Reply{};
      return Result<Reply>(std::move(done));
    }
  }
}

}  // namespace tern::smtp
