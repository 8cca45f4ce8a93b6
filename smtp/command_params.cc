// ESMTP parameters: strict on values, case-insensitive on keywords. Decoded
// values are checked for what later layers must be able to trust: a decoded
// ENVID, ORCPT or AUTH never carries a control character, so a DSN built from
// it cannot gain a header line.
#include "smtp/command_params.h"

#include <utility>

#include "smtp/encoding.h"

namespace tern::smtp {
namespace {

constexpr std::size_t kMaxEnvid = 100;  // RFC 3461 §4.4

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_control(char c) { return static_cast<unsigned char>(c) < 32 || c == 127; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

struct Param {
  std::string_view keyword;
  std::optional<std::string_view> value;
};

// esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2).
bool split_param(std::string_view token, Param& out) {
  std::size_t eq = token.find('=');
  out.keyword = token.substr(0, eq);
  if (out.keyword.empty() || !is_alnum(out.keyword[0])) return false;
  for (char c : out.keyword) {
    if (!is_alnum(c) && c != '-') return false;
  }
  out.value.reset();
  if (eq == std::string_view::npos) return true;
  std::string_view value = token.substr(eq + 1);
  if (value.empty()) return false;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == '=') return false;
  }
  out.value = value;
  return true;
}

bool has_control(std::string_view s) {
  for (char c : s) {
    if (is_control(c)) return true;
  }
  return false;
}

Reply bad_param(std::string_view name) { return make_reply(501, "5.5.4", "Bad " + std::string(name) + " parameter"); }
Reply unsupported(std::string_view keyword) {
  return make_reply(555, "5.5.4", "Unsupported option: " + std::string(keyword));
}
Reply duplicate(std::string_view name) {
  return make_reply(501, "5.5.4", "Duplicate " + std::string(name) + " parameter");
}

// The parameters a keyword may name, to catch duplicates.
enum ParamBit : unsigned {
  kSize = 1, kBody = 2, kSmtpUtf8 = 4, kRet = 8, kEnvid = 16, kAuth = 32, kNotify = 64, kOrcpt = 128,
};

// Applies one MAIL parameter; a Reply on refusal.
std::optional<Reply> mail_param(const Param& p, MailParams& mail, ParamsSeen& seen) {
  auto once = [&seen](ParamBit bit) {
    bool dup = (seen & bit) != 0;
    seen |= bit;
    return !dup;
  };
  if (iequals(p.keyword, "SIZE")) {
    if (!once(kSize)) return duplicate("SIZE");
    auto n = p.value ? parse_decimal(*p.value, 20) : std::nullopt;
    if (!n) return bad_param("SIZE");
    mail.size = *n;
  } else if (iequals(p.keyword, "BODY")) {
    if (!once(kBody)) return duplicate("BODY");
    if (!p.value) return bad_param("BODY");
    if (iequals(*p.value, "7BIT")) mail.body = BodyType::SevenBit;
    else if (iequals(*p.value, "8BITMIME")) mail.body = BodyType::EightBitMime;
    else if (iequals(*p.value, "BINARYMIME")) mail.body = BodyType::BinaryMime;
    else return bad_param("BODY");
  } else if (iequals(p.keyword, "SMTPUTF8")) {
    if (!once(kSmtpUtf8)) return duplicate("SMTPUTF8");
    if (p.value) return bad_param("SMTPUTF8");
    mail.smtputf8 = true;
  } else if (iequals(p.keyword, "RET")) {
    if (!once(kRet)) return duplicate("RET");
    if (!p.value) return bad_param("RET");
    if (iequals(*p.value, "FULL")) mail.ret = DsnRet::Full;
    else if (iequals(*p.value, "HDRS")) mail.ret = DsnRet::Hdrs;
    else return bad_param("RET");
  } else if (iequals(p.keyword, "ENVID")) {
    if (!once(kEnvid)) return duplicate("ENVID");
    if (!p.value || p.value->size() > kMaxEnvid) return bad_param("ENVID");
    auto decoded = xtext_decode(*p.value);
    // RFC 3461 §4.4: printable US-ASCII before encoding.
    if (!decoded) return bad_param("ENVID");
    for (char c : *decoded) {
      auto u = static_cast<unsigned char>(c);
      if (u < 32 || u > 126) return bad_param("ENVID");
    }
    mail.envid = std::move(*decoded);
  } else if (iequals(p.keyword, "AUTH")) {
    if (!once(kAuth)) return duplicate("AUTH");
    auto decoded = p.value ? xtext_decode(*p.value) : std::nullopt;
    if (!decoded || decoded->empty() || has_control(*decoded)) return bad_param("AUTH");
    mail.auth = std::move(*decoded);
  } else {
    return unsupported(p.keyword);
  }
  return std::nullopt;
}

std::optional<Reply> rcpt_param(const Param& p, RcptParams& rcpt, ParamsSeen& seen) {
  if (iequals(p.keyword, "NOTIFY")) {
    if (seen & kNotify) return duplicate("NOTIFY");
    seen |= kNotify;
    if (!p.value) return bad_param("NOTIFY");
    std::string_view list = *p.value;
    while (true) {
      std::size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      bool* flag = iequals(item, "NEVER")     ? &rcpt.notify_never
                   : iequals(item, "SUCCESS") ? &rcpt.notify_success
                   : iequals(item, "FAILURE") ? &rcpt.notify_failure
                   : iequals(item, "DELAY")   ? &rcpt.notify_delay
                                              : nullptr;
      if (flag == nullptr || *flag) return bad_param("NOTIFY");  // unknown, empty or repeated
      *flag = true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    // RFC 3461 §4.1: NEVER stands alone.
    if (rcpt.notify_never && (rcpt.notify_success || rcpt.notify_failure || rcpt.notify_delay)) {
      return bad_param("NOTIFY");
    }
  } else if (iequals(p.keyword, "ORCPT")) {
    if (seen & kOrcpt) return duplicate("ORCPT");
    seen |= kOrcpt;
    if (!p.value) return bad_param("ORCPT");
    std::size_t semi = p.value->find(';');
    if (semi == 0 || semi == std::string_view::npos) return bad_param("ORCPT");
    std::string_view type = p.value->substr(0, semi);
    for (char c : type) {  // addr-type = atom
      if (!is_alnum(c) && std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) == std::string_view::npos) {
        return bad_param("ORCPT");
      }
    }
    auto address = xtext_decode(p.value->substr(semi + 1));
    if (!address || address->empty() || has_control(*address)) return bad_param("ORCPT");
    std::string orcpt;
    for (char c : type) orcpt += lower(c);
    rcpt.orcpt = orcpt + ";" + *address;
  } else {
    return unsupported(p.keyword);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> parse_decimal(std::string_view text, std::size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<Reply> parse_mail_param(std::string_view token, MailParams& params, ParamsSeen& seen) {
  Param p;
  if (!split_param(token, p)) return make_reply(501, "5.5.4", "Syntax error in parameters");
  return mail_param(p, params, seen);
}

std::optional<Reply> parse_rcpt_param(std::string_view token, RcptParams& params, ParamsSeen& seen) {
  Param p;
  if (!split_param(token, p)) return make_reply(501, "5.5.4", "Syntax error in parameters");
  return rcpt_param(p, params, seen);
}

std::string encode_params(const MailParams& m) {
  std::string out;
  if (m.size) out += " SIZE=" + std::to_string(*m.size);
  if (m.body == BodyType::SevenBit) out += " BODY=7BIT";
  if (m.body == BodyType::EightBitMime) out += " BODY=8BITMIME";
  if (m.body == BodyType::BinaryMime) out += " BODY=BINARYMIME";
  if (m.smtputf8) out += " SMTPUTF8";
  if (m.ret == DsnRet::Full) out += " RET=FULL";
  if (m.ret == DsnRet::Hdrs) out += " RET=HDRS";
  if (m.envid) out += " ENVID=" + xtext_encode(*m.envid);
  if (m.auth) out += " AUTH=" + xtext_encode(*m.auth);
  return out;
}

std::string encode_params(const RcptParams& r) {
  std::string out;
  if (r.notify_never) {
    out += " NOTIFY=NEVER";  // NEVER stands alone, whatever else is set
  } else if (r.notify_given()) {
    std::string list;
    if (r.notify_success) list += ",SUCCESS";
    if (r.notify_failure) list += ",FAILURE";
    if (r.notify_delay) list += ",DELAY";
    out += " NOTIFY=" + list.substr(1);
  }
  if (r.orcpt) {
    // Stored as "type;address"; a bare address is taken to be rfc822.
    std::size_t semi = r.orcpt->find(';');
    std::string type = semi == std::string::npos ? "rfc822" : r.orcpt->substr(0, semi);
    std::string address = semi == std::string::npos ? *r.orcpt : r.orcpt->substr(semi + 1);
    out += " ORCPT=" + type + ";" + xtext_encode(address);
  }
  return out;
}

}  // namespace tern::smtp
