#include "metrics/http_request.h"

#include <algorithm>
#include <cctype>

namespace tern::metrics {
namespace {

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u) != 0) return u < 0x80;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

bool is_visible(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
  });
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

// The path of a request-target (RFC 9112 §3.2), or "" when it is none of
// origin-form, absolute-form (http/https) or asterisk-form.
std::string path_of(std::string_view target) {
  if (target == "*") return "*";
  if (!target.empty() && target.front() != '/') {
    std::size_t scheme = 0;
    if (starts_with_nocase(target, "http://")) scheme = 7;
    else if (starts_with_nocase(target, "https://")) scheme = 8;
    else return {};
    target.remove_prefix(scheme);
    const std::size_t slash = target.find_first_of("/?");
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    if (target.front() == '?') return "/";
  }
  return std::string(target.substr(0, target.find('?')));
}

}  // namespace

RequestParser::State RequestParser::feed(std::string_view bytes) {
  while (state_ == State::NeedMore && !bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    const std::size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
    if (seen_ + take > max_bytes_) {
      fail(431);
      break;
    }
    seen_ += take;
    // Control bytes fail at once, so a TLS ClientHello or other binary
    // junk is answered now instead of at the deadline. CR is judged at the
    // end of its line; HT is legal whitespace in field values.
    const std::string_view segment = bytes.substr(0, nl == std::string_view::npos ? take : nl);
    if (std::any_of(segment.begin(), segment.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return (u < 0x20 && c != '\t' && c != '\r') || u == 0x7f;
        })) {
      fail(400);
      break;
    }
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      break;
    }
    partial_.append(bytes.substr(0, nl));
    bytes.remove_prefix(take);
    std::string whole = std::move(partial_);
    partial_.clear();
    line(whole);
  }
  return state_;
}

void RequestParser::line(std::string_view l) {
  // CRLF ends a line; a bare LF is accepted (RFC 9112 §2.2), a bare CR is not.
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) return fail(400);

  if (!have_request_line_) {
    if (l.empty()) return;  // RFC 9112 §2.2: ignore empty lines before the request line
    const std::size_t sp1 = l.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : l.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || l.find(' ', sp2 + 1) != std::string_view::npos) return fail(400);
    const std::string_view method = l.substr(0, sp1);
    const std::string_view target = l.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = l.substr(sp2 + 1);
    if (!is_token(method) || target.empty() || !is_visible(target)) return fail(400);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || std::isdigit(static_cast<unsigned char>(version[5])) == 0 ||
        version[6] != '.' || std::isdigit(static_cast<unsigned char>(version[7])) == 0) {
      return fail(400);
    }
    if (version[5] != '1') return fail(505);
    std::string path = path_of(target);
    if (path.empty()) return fail(400);
    request_.method = std::string(method);
    request_.path = std::move(path);
    have_request_line_ = true;
    return;
  }

  if (l.empty()) {
    state_ = State::Complete;
    return;
  }
  // A field line: token ":" value. Obsolete line folding is refused (RFC 9112 §5.2).
  const std::size_t colon = l.find(':');
  if (colon == std::string_view::npos || !is_token(l.substr(0, colon))) return fail(400);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string format_response(int status, std::string_view content_type, std::string_view body, bool head,
                            std::string_view extra_headers) {
  std::string out;
  out.reserve(160 + extra_headers.size() + (head ? 0 : body.size()));
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  if (!head) out += body;
  return out;
}

}  // namespace tern::metrics
