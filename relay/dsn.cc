// RFC 3464 bounce messages. See dsn.h.
#include "relay/dsn.h"

#include "smtp/address.h"

namespace tern::relay {
namespace {

bool wants_failure_notice(const smtp::RcptParams& params) {
  if (!params.notify_given()) return true;  // RFC 3461 §4.1: default is FAILURE (and DELAY)
  return params.notify_failure;
}

// ORCPT is kept as "rfc822;addr"; Original-Recipient wants "rfc822; addr".
std::string original_recipient_field(const std::string& orcpt) {
  auto semi = orcpt.find(';');
  if (semi == std::string::npos) return "rfc822; " + orcpt;
  return orcpt.substr(0, semi) + "; " + orcpt.substr(semi + 1);
}

// Header values we write must not carry CR/LF from peer replies.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

}  // namespace

std::optional<DsnMessage> build_dsn(const DsnInput& in) {
  if (in.original_sender.is_null()) return std::nullopt;
  std::vector<const FailedRecipient*> notify;
  for (const FailedRecipient& f : in.failed) {
    if (wants_failure_notice(f.recipient.params)) notify.push_back(&f);
  }
  if (notify.empty()) return std::nullopt;

  const std::string boundary = in.dsn_message_id + "/" + in.hostname;
  const std::string_view headers = in.original_headers;
  const bool eight_bit = smtp::has_non_ascii(headers) || smtp::has_non_ascii(in.original_sender.str());

  std::string d;
  d.reserve(2048 + headers.size());
  d += "From: MAILER-DAEMON@" + in.hostname + " (Mail Delivery System)\r\n";
  d += "To: " + in.original_sender.mailbox->str() + "\r\n";
  d += "Subject: Undelivered Mail Returned to Sender\r\n";
  d += "Date: " + in.date + "\r\n";
  d += "Message-ID: <" + in.dsn_message_id + "@" + in.hostname + ">\r\n";
  d += "Auto-Submitted: auto-replied\r\n";
  d += "MIME-Version: 1.0\r\n";
  d += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  d += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

  d += "--" + boundary + "\r\n";
  d += "Content-Description: Notification\r\n";
  d += "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  d += "This is the mail system at host " + in.hostname + ".\r\n\r\n";
  d += "I'm sorry to have to inform you that your message could not\r\n";
  d += "be delivered to one or more recipients. It's attached below.\r\n\r\n";
  for (const FailedRecipient* f : notify) {
    d += "<" + f->recipient.mailbox.str() + ">: " + one_line(f->reason) + "\r\n";
  }
  d += "\r\n";

  d += "--" + boundary + "\r\n";
  d += "Content-Description: Delivery report\r\n";
  d += "Content-Type: message/delivery-status\r\n\r\n";
  d += "Reporting-MTA: dns; " + in.hostname + "\r\n";
  d += "X-Tern-Queue-ID: " + in.queue_id + "\r\n";
  if (in.original_params.envid) d += "Original-Envelope-Id: " + one_line(*in.original_params.envid) + "\r\n";
  d += "Arrival-Date: " + in.arrival_date + "\r\n";
  for (const FailedRecipient* f : notify) {
    d += "\r\n";
    d += "Final-Recipient: rfc822; " + f->recipient.mailbox.str() + "\r\n";
    if (f->recipient.params.orcpt) {
      d += "Original-Recipient: " + original_recipient_field(*f->recipient.params.orcpt) + "\r\n";
    }
    d += "Action: failed\r\n";
    d += "Status: " + f->status + "\r\n";
    if (!f->remote_mta.empty()) d += "Remote-MTA: dns; " + f->remote_mta + "\r\n";
    if (!f->diagnostic.empty()) d += "Diagnostic-Code: smtp; " + one_line(f->diagnostic) + "\r\n";
  }
  d += "\r\n";

  d += "--" + boundary + "\r\n";
  d += "Content-Description: Undelivered Message Headers\r\n";
  d += "Content-Type: text/rfc822-headers\r\n\r\n";
  d += headers;
  if (!headers.empty() && headers.substr(headers.size() - 2) != "\r\n") d += "\r\n";
  d += "\r\n--" + boundary + "--\r\n";

  DsnMessage out;
  out.envelope.sender = smtp::Path{};  // <>
  out.envelope.params.body = eight_bit ? smtp::BodyType::EightBitMime : smtp::BodyType::SevenBit;
  out.envelope.params.smtputf8 = smtp::has_non_ascii(in.original_sender.str());
  out.envelope.recipients.push_back(smtp::Recipient{*in.original_sender.mailbox, {}});
  out.data = std::move(d);
  return out;
}

}  // namespace tern::relay
