// The -v transcript of `tern sendmail`. See smtp_transcript.h.
#include "relay/smtp_transcript.h"

#include <algorithm>
#include <ostream>

#include "smtp/encoding.h"

namespace tern::relay {
namespace {

constexpr std::size_t kMaxShownLine = 4096;  // a server line longer than this is cut
constexpr std::string_view kMask = "*****";

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i];
    if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
    if (a != prefix[i]) return false;
  }
  return true;
}

}  // namespace

SmtpTranscript::SmtpTranscript(std::ostream& out, const std::optional<std::string>& user,
                               const std::string& password)
    : out_(out) {
  if (!user) return;
  std::string credentials;
  credentials += '\0';
  credentials += *user;
  credentials += '\0';
  credentials += password;
  secrets_ = {smtp::base64_encode(credentials), smtp::base64_encode(password), password};
  std::erase_if(secrets_, [](const std::string& s) { return s.empty(); });
  // Longest first: a shorter secret may sit inside a longer one's text.
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string SmtpTranscript::masked(std::string line) const {
  for (const std::string& secret : secrets_) {
    for (std::size_t at = line.find(secret); at != std::string::npos; at = line.find(secret, at + kMask.size())) {
      line.replace(at, secret.size(), kMask);
    }
  }
  return line;
}

void SmtpTranscript::received(std::string_view bytes) {
  partial_.append(bytes);
  std::size_t start = 0;
  for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = partial_.substr(start, std::min(nl - start, kMaxShownLine));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out_ << "<<< " << masked(std::move(line)) << "\n";
  }
  partial_.erase(0, start);
  if (partial_.size() > kMaxShownLine) partial_.resize(kMaxShownLine);  // bounded; the rest of it is cut
}

void SmtpTranscript::sent(std::string_view bytes, bool in_auth) {
  std::size_t start = 0;
  while (start < bytes.size()) {
    std::size_t end = bytes.find("\r\n", start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string line(bytes.substr(start, end - start));
    if (in_auth) {
      // "AUTH PLAIN <secret>" keeps its mechanism; answers to 334 are all secret.
      if (starts_with_icase(line, "AUTH ")) {
        std::size_t mech_end = line.find(' ', 5);
        if (mech_end != std::string::npos) line = line.substr(0, mech_end) + " " + std::string(kMask);
      } else {
        line = kMask;
      }
    }
    out_ << ">>> " << masked(std::move(line)) << "\n";
    start = end + 2;
  }
}

void SmtpTranscript::body(std::size_t size) {
  if (body_shown_) return;
  body_shown_ = true;
  out_ << ">>> (message: " << size << " bytes, then \".\")\n";
}

void SmtpTranscript::note(std::string_view line) { out_ << "*** " << line << "\n"; }

}  // namespace tern::relay
