#pragma once
// The envelope of one message: what MAIL FROM and RCPT TO said. The server
// session builds it, the queue stores it, the client session sends it.

#include <string>
#include <vector>

#include "smtp/address.h"
#include "smtp/command.h"

namespace tern::smtp {

struct Recipient {
  Mailbox mailbox;
  RcptParams params;
  friend bool operator==(const Recipient&, const Recipient&) = default;
};

struct Envelope {
  Path sender;                       // may be the null path <> (bounces)
  MailParams params;                 // SIZE, BODY, SMTPUTF8, RET, ENVID
  std::vector<Recipient> recipients;
  friend bool operator==(const Envelope&, const Envelope&) = default;
};

}  // namespace tern::smtp
