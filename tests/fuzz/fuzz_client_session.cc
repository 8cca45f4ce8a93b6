// ClientSession against a hostile server. Input layout:
//   byte 0  policy: bits 0-1 TLS mode (0 None, 1 Opportunistic, 2 Required),
//           bit 2 implicit TLS, bit 3 AUTH required, bit 4 a tiny reply buffer
//   byte 1  envelope: bits 0-2 recipient count (0..7), bit 3 SMTPUTF8,
//           bit 4 BODY=8BITMIME, bit 5 DSN parameters, bits 6-7 which body
//   byte 2-3 seed for the read splits; byte 3 bit 0: no message until "\xffM"
//   then    the server's bytes, fed in random splits, with escapes:
//           "\xffT" timer_fired  "\xffE" receive_eof  "\xffR" tls_ready
//           "\xffF" tls_failed   "\xffQ" quit()       "\xffM" send_message
//           (a further message once the previous one is finished)
// Invariants (trap on violation): no crash; exactly one Finished per
// send_message, none unasked; one result per envelope recipient; Delivered
// only on a server reply; SendBody only inside the body and only while its
// message is in flight; nothing but Finished after Close; the password (when
// AUTH is configured) never in a detail; an EOF at the end finishes a message
// still in flight.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "smtp/client_session.h"

namespace {

using namespace tern::smtp;

const char* const kBodies[] = {
    "Subject: hi\r\n\r\nHello\r\n",
    ".leading\r\n.\r\n..\r\nno final CRLF",
    "",
    "line\nwith lone LF\r\n.\r\n",
};

Mailbox mailbox(std::string local, std::string domain) { return Mailbox{std::move(local), std::move(domain)}; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t p = data[0];
  const uint8_t e = data[1];
  uint32_t rng = (static_cast<uint32_t>(data[2]) | static_cast<uint32_t>(data[3]) << 8) * 2654435761u + 1;
  const bool send_first = (data[3] & 1) == 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 4, size - 4);

  ClientPolicy policy;
  policy.helo_name = "relay.example.com";
  policy.peer_name = "mx1.example.org[192.0.2.7]";
  policy.tls = static_cast<ClientTls>((p & 3) % 3);
  policy.tls_active = (p & 4) != 0;
  if (p & 8) {
    policy.auth_user = "user";
    policy.auth_password = "Sup3rSecret";
  }
  if (p & 16) policy.max_reply_bytes = 64;

  Envelope env;
  env.sender.mailbox = mailbox("alice", "example.com");
  for (int i = 0; i < (e & 7); ++i) {
    Recipient r{mailbox("rcpt" + std::to_string(i), "example.org"), {}};
    if (e & 32) {
      r.params.notify_failure = true;
      r.params.orcpt = "rfc822;rcpt" + std::to_string(i) + "@example.org";
    }
    env.recipients.push_back(std::move(r));
  }
  env.params.smtputf8 = (e & 8) != 0;
  if (e & 16) env.params.body = BodyType::EightBitMime;
  if (e & 32) {
    env.params.ret = DsnRet::Hdrs;
    env.params.envid = "ENV1";
  }
  const std::string body = kBodies[(e >> 6) & 3];  // a heap copy: slices must point into it

  ClientSession session(policy);
  int sent = 0;
  int finished = 0;
  bool in_flight = false;
  bool closed = false;

  auto drain = [&] {
    for (int n = 0; n < (1 << 20); ++n) {
      auto action = session.next_action();
      if (!action) return;
      if (closed && !std::holds_alternative<client::Finished>(*action)) __builtin_trap();
      if (auto* f = std::get_if<client::Finished>(&*action)) {
        if (!in_flight) __builtin_trap();
        in_flight = false;
        ++finished;
        if (f->recipients.size() != env.recipients.size()) __builtin_trap();
        for (const auto& r : f->recipients) {
          if (r.status == RecipientResult::Status::Delivered && (!r.reply || r.reply->code / 100 != 2)) {
            __builtin_trap();
          }
          if (r.detail.empty()) __builtin_trap();
          if (policy.auth_user && r.detail.find("Sup3rSecret") != std::string::npos) __builtin_trap();
        }
      } else if (auto* b = std::get_if<client::SendBody>(&*action)) {
        if (!in_flight) __builtin_trap();
        if (b->bytes.data() < body.data() || b->bytes.data() + b->bytes.size() > body.data() + body.size()) {
          __builtin_trap();
        }
      } else if (auto* t = std::get_if<client::ArmTimer>(&*action)) {
        if (t->after.count() <= 0) __builtin_trap();
      } else if (std::holds_alternative<client::Close>(*action)) {
        closed = true;
      }
    }
    __builtin_trap();  // a session that never stops producing actions
  };
  auto send_message = [&] {
    if (in_flight) return;
    in_flight = true;
    ++sent;
    session.send_message(env, body);
    drain();
  };

  drain();
  if (send_first) send_message();
  std::size_t i = 0;
  while (i < input.size()) {
    if (input[i] == '\xff' && i + 1 < input.size()) {
      switch (input[i + 1]) {
        case 'T': session.timer_fired(); break;
        case 'E': session.receive_eof(); break;
        case 'R': session.tls_ready(); break;
        case 'F': session.tls_failed("handshake failure"); break;
        case 'Q': session.quit(); break;
        case 'M': send_message(); break;
        default: session.receive(input.substr(i, 2)); break;
      }
      i += 2;
      drain();
      continue;
    }
    // Up to the next escape, in a random split.
    std::size_t end = input.find('\xff', i + 1);  // a lone trailing 0xff is data
    if (end == std::string_view::npos) end = input.size();
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    const std::size_t len = std::min<std::size_t>(end - i, 1 + rng % 64);
    session.receive(input.substr(i, len));
    i += len;
    drain();
  }
  if (in_flight) {
    session.receive_eof();
    drain();
    if (in_flight) __builtin_trap();
  }
  if (finished != sent) __builtin_trap();
  return 0;
}
