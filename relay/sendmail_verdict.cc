// Exit codes and messages of `tern sendmail`. See sendmail_verdict.h.
#include "relay/sendmail_verdict.h"

#include <algorithm>
#include <string_view>

#include "relay/exit_codes.h"

namespace tern::relay {
namespace {

constexpr int kExNoHost = 68;  // EX_NOHOST: host name unknown

enum class Category { Delivered, Auth, Temporary, Permanent };

// The command a reply answered, from the session's detail "... (in reply to X)".
std::string in_reply_to(std::string_view detail) {
  constexpr std::string_view kMarker = "(in reply to ";
  std::size_t at = detail.rfind(kMarker);
  if (at == std::string_view::npos || detail.empty() || detail.back() != ')') return "";
  at += kMarker.size();
  return std::string(detail.substr(at, detail.size() - 1 - at));
}

Category categorize(const smtp::RecipientResult& r, smtp::ClientState stage) {
  using S = smtp::RecipientResult::Status;
  if (r.status == S::Delivered) return Category::Delivered;
  if (r.reply) {
    const int code = r.reply->code;
    if (code == 530 || code == 535) return Category::Auth;
    if (stage == smtp::ClientState::Auth && code >= 500) return Category::Auth;
    return code >= 500 ? Category::Permanent : Category::Temporary;
  }
  // No reply decided it: a timeout, a lost connection (temporary), or a
  // refusal we made ourselves on the server's word (SIZE, no SMTPUTF8).
  return r.status == S::Permanent ? Category::Permanent : Category::Temporary;
}

std::string line_for(const smtp::RecipientResult& r, Category category, const smtp::Recipient& rcpt) {
  if (!r.reply) return "tern sendmail: " + r.detail;
  const std::string said = ", server said: " + r.reply->summary();
  const std::string command = in_reply_to(r.detail);
  const bool refused = category != Category::Temporary;
  if (category == Category::Auth) {
    return "tern sendmail: authentication refused" + (command.empty() ? "" : " (" + command + ")") + said;
  }
  if (command == "RCPT TO") {
    return "tern sendmail: recipient <" + rcpt.mailbox.str() + "> " + (refused ? "refused" : "deferred") + said;
  }
  if (command.empty()) {  // the greeting
    return std::string("tern sendmail: connection ") + (refused ? "refused" : "deferred") + " at the greeting" +
           said;
  }
  if (command.starts_with("AUTH")) return "tern sendmail: authentication deferred (" + command + ")" + said;
  if (command == "STARTTLS") return "tern sendmail: STARTTLS refused" + said;
  if (command == "EHLO" || command == "HELO") return "tern sendmail: " + command + " refused" + said;
  return std::string("tern sendmail: message ") + (refused ? "refused" : "deferred") + " at " + command + said;
}

void add_unique(std::vector<std::string>& lines, std::string line) {
  if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(std::move(line));
}

}  // namespace

SendmailVerdict judge_submission(const SubmitOutcome& outcome, const smtp::Envelope& envelope) {
  SendmailVerdict v;
  switch (outcome.kind) {
    case SubmitOutcome::Kind::Finished: break;
    case SubmitOutcome::Kind::UnknownHost:
      return {kExNoHost, {"tern sendmail: " + outcome.error}};
    case SubmitOutcome::Kind::ConnectFailed:
    case SubmitOutcome::Kind::TlsHandshakeFailed:
      return {kExTempFail, {"tern sendmail: " + outcome.error}};
    case SubmitOutcome::Kind::TlsNotVerified:
      return {kExNoPerm, {"tern sendmail: " + outcome.error}};
    case SubmitOutcome::Kind::StartTlsMissing:
      return {kExUnavailable, {"tern sendmail: " + outcome.error}};
    case SubmitOutcome::Kind::LocalError:
      return {kExOsErr, {"tern sendmail: " + outcome.error}};
  }
  if (!outcome.finished) return {kExSoftware, {"tern sendmail: the SMTP session ended without a result"}};
  bool auth = false;
  bool temporary = false;
  bool permanent = false;
  const auto& results = outcome.finished->recipients;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Category c = categorize(results[i], outcome.stage);
    if (c == Category::Delivered) continue;
    auth = auth || c == Category::Auth;
    temporary = temporary || c == Category::Temporary;
    permanent = permanent || c == Category::Permanent;
    const smtp::Recipient fallback{};
    add_unique(v.lines, line_for(results[i], c, i < envelope.recipients.size() ? envelope.recipients[i] : fallback));
  }
  if (results.size() != envelope.recipients.size()) {  // our bug; never report success for it
    add_unique(v.lines, "tern sendmail: the SMTP session reported " + std::to_string(results.size()) +
                            " results for " + std::to_string(envelope.recipients.size()) + " recipients");
    return {kExSoftware, std::move(v.lines)};
  }
  v.exit_code = auth ? kExNoPerm : temporary ? kExTempFail : permanent ? kExUnavailable : kExOk;
  return v;
}

}  // namespace tern::relay
