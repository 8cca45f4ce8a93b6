#include "queue/message.h"

namespace tern::queue {

std::string_view to_string(RecipientState state) {
  switch (state) {
    case RecipientState::Ready: return "ready";
    case RecipientState::Deferred: return "deferred";
    case RecipientState::Held: return "held";
    case RecipientState::Delivered: return "delivered";
    case RecipientState::Bounced: return "bounced";
  }
  return "ready";
}

std::optional<RecipientState> parse_recipient_state(std::string_view text) {
  for (auto s : {RecipientState::Ready, RecipientState::Deferred, RecipientState::Held, RecipientState::Delivered,
                 RecipientState::Bounced}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view to_string(MessageState state) {
  switch (state) {
    case MessageState::Ready: return "ready";
    case MessageState::Deferred: return "deferred";
    case MessageState::Held: return "held";
  }
  return "ready";
}

std::optional<MessageState> parse_message_state(std::string_view text) {
  for (auto s : {MessageState::Ready, MessageState::Deferred, MessageState::Held}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view to_string(AttemptRecord::Outcome outcome) {
  switch (outcome) {
    case AttemptRecord::Outcome::Delivered: return "delivered";
    case AttemptRecord::Outcome::Deferred: return "deferred";
    case AttemptRecord::Outcome::Bounced: return "bounced";
  }
  return "deferred";
}

std::string mailbox_text(const smtp::Mailbox& mailbox) {
  if (mailbox.domain.empty()) return mailbox.local;
  return mailbox.local + "@" + mailbox.domain;
}

smtp::Mailbox parse_mailbox_text(std::string_view text) {
  auto at = text.rfind('@');
  if (at == std::string_view::npos) return smtp::Mailbox{std::string(text), {}};
  return smtp::Mailbox{std::string(text.substr(0, at)), std::string(text.substr(at + 1))};
}

int body_code(smtp::BodyType body) {
  switch (body) {
    case smtp::BodyType::Unspecified: return 0;
    case smtp::BodyType::SevenBit: return 1;
    case smtp::BodyType::EightBitMime: return 2;
    case smtp::BodyType::BinaryMime: return 3;
  }
  return 0;
}

smtp::BodyType body_from_code(std::int64_t code) {
  switch (code) {
    case 1: return smtp::BodyType::SevenBit;
    case 2: return smtp::BodyType::EightBitMime;
    case 3: return smtp::BodyType::BinaryMime;
    default: return smtp::BodyType::Unspecified;
  }
}

int ret_code(smtp::DsnRet ret) {
  switch (ret) {
    case smtp::DsnRet::Unspecified: return 0;
    case smtp::DsnRet::Full: return 1;
    case smtp::DsnRet::Hdrs: return 2;
  }
  return 0;
}

smtp::DsnRet ret_from_code(std::int64_t code) {
  switch (code) {
    case 1: return smtp::DsnRet::Full;
    case 2: return smtp::DsnRet::Hdrs;
    default: return smtp::DsnRet::Unspecified;
  }
}

int notify_bits(const smtp::RcptParams& params) {
  return (params.notify_never ? 1 : 0) | (params.notify_success ? 2 : 0) | (params.notify_failure ? 4 : 0) |
         (params.notify_delay ? 8 : 0);
}

void set_notify_bits(std::int64_t bits, smtp::RcptParams& params) {
  params.notify_never = (bits & 1) != 0;
  params.notify_success = (bits & 2) != 0;
  params.notify_failure = (bits & 4) != 0;
  params.notify_delay = (bits & 8) != 0;
}

std::string domain_key(std::string_view domain) {
  std::string out(domain);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace tern::queue
