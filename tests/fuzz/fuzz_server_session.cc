// Fuzzes ServerSession as a relay would drive it: the input is a little setup
// (policy, split pattern) and then the client's bytes, fed in chunks whose
// sizes come from the input. Authenticate, Enqueue and StartTls are answered
// deterministically from the input too, sometimes at once and sometimes after
// more bytes have arrived; shutdown, timeouts and EOF happen now and then.
// Traps when an invariant breaks: every Send is well-formed replies, no Enqueue
// body (with the pieces taken off meanwhile, as the relay spills a large one)
// holds a bare CR or LF or a NUL or exceeds the size limit, an Enqueue has
// 1..max_recipients recipients, nothing follows Close, nothing is sent while
// the TLS handshake runs, and unparsed input stays bounded.
//
// Input layout: [flags][size][recipients][failures][seed x4] then client bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "smtp/server_session.h"

namespace {

using namespace tern;
using namespace tern::smtp;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool well_formed(std::string_view bytes) {
  if (bytes.size() < 6 || bytes.substr(bytes.size() - 2) != "\r\n") return false;
  std::string_view open_code;  // code of an unfinished multi-line reply
  while (!bytes.empty()) {
    const std::size_t end = bytes.find("\r\n");
    if (end == std::string_view::npos) return false;
    const std::string_view line = bytes.substr(0, end);
    bytes.remove_prefix(end + 2);
    if (line.size() < 4 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
        line[2] > '9' || (line[3] != ' ' && line[3] != '-')) {
      return false;
    }
    for (char c : line) {
      if (c == '\r' || c == '\n') return false;
    }
    if (!open_code.empty() && open_code != line.substr(0, 3)) return false;
    open_code = line[3] == '-' ? line.substr(0, 3) : std::string_view();
  }
  return open_code.empty();
}

bool clean_body(std::string_view body) {
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\0') return false;
    if (c == '\r' && (i + 1 == body.size() || body[i + 1] != '\n')) return false;
    if (c == '\n' && (i == 0 || body[i - 1] != '\r')) return false;
  }
  return true;
}

struct Rng {
  std::uint32_t state;
  std::uint32_t next() {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  }
};

struct Driver {
  ServerSession& s;
  const ServerPolicy& policy;
  Rng rng;
  bool closed = false;
  bool handshaking = false;
  int pending_auth = 0;
  int pending_enqueue = 0;
  int pending_tls = 0;
  std::string taken;            // body pieces taken off while reading, as the relay spills them
  std::uint64_t taken_tx = 0;   // the transaction they belong to

  // Now and then take what the session holds of a body, as the relay does
  // for a large one; pieces of a transaction that moved on are thrown away.
  void maybe_take() {
    if (s.body_buffered() == 0 || rng.next() % 3 != 0) return;
    if (taken_tx != s.transaction()) {
      taken.clear();
      taken_tx = s.transaction();
    }
    taken += s.take_body();
    check(s.body_buffered() == 0);
  }

  void answer_auth() {
    switch (rng.next() % 4) {
      case 0: s.auth_result(Error::permanent("bad password")); break;
      case 1: s.auth_result(Error::transient("store down")); break;
      default: s.auth_result(Status{}); break;
    }
  }
  void answer_enqueue() {
    switch (rng.next() % 4) {
      case 0: s.enqueued(Error::transient("disk full")); break;
      case 1: s.enqueued(Error::permanent("refused")); break;
      default: s.enqueued(std::string("Q") + std::to_string(rng.next() % 1000)); break;
    }
  }
  void answer_tls() {
    handshaking = false;
    if (rng.next() % 8 == 0) {
      s.tls_failed();
    } else {
      s.tls_ready();
    }
  }

  // Answers held back are given now, in the order a relay might.
  void deliver_pending() {
    while (pending_auth > 0) {
      --pending_auth;
      answer_auth();
    }
    while (pending_enqueue > 0) {
      --pending_enqueue;
      answer_enqueue();
    }
    while (pending_tls > 0) {
      --pending_tls;
      answer_tls();
    }
  }

  void pump() {
    for (int guard = 0; guard < 100000; ++guard) {
      std::optional<ServerAction> a = s.next_action();
      if (!a) return;
      check(!closed);
      if (auto* send = std::get_if<server::Send>(&*a)) {
        check(well_formed(send->bytes));
        check(!handshaking);
      } else if (auto* enq = std::get_if<server::Enqueue>(&*a)) {
        const std::string whole = (enq->transaction == taken_tx ? taken : std::string()) + enq->body;
        taken.clear();
        check(clean_body(whole));
        check(whole.size() <= policy.max_message_size);
        check(!enq->envelope.recipients.empty());
        check(enq->envelope.recipients.size() <= policy.max_recipients);
        if (rng.next() % 2 == 0) {
          answer_enqueue();
        } else {
          ++pending_enqueue;
        }
      } else if (std::get_if<server::Authenticate>(&*a)) {
        check(s.tls_active());
        if (rng.next() % 2 == 0) {
          answer_auth();
        } else {
          ++pending_auth;
        }
      } else if (std::get_if<server::StartTls>(&*a)) {
        check(!s.tls_active());
        handshaking = true;
        if (rng.next() % 2 == 0) {
          answer_tls();
        } else {
          ++pending_tls;
        }
      } else if (std::get_if<server::Close>(&*a)) {
        closed = true;
      }
    }
    check(false);  // an endless stream of actions
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  ServerPolicy policy;
  policy.hostname = "fuzz.example";
  const std::uint8_t flags = data[0];
  policy.starttls_available = (flags & 1) != 0;
  policy.require_auth = (flags & 2) != 0;
  policy.max_message_size = 16 + static_cast<std::uint64_t>(data[1]) * 8;
  policy.max_recipients = 1 + data[2] % 8;
  policy.max_auth_failures = 1 + data[3] % 4;
  ConnectionFacts facts;
  facts.implicit_tls = (flags & 4) != 0;
  facts.client_trusted = (flags & 8) != 0;
  Rng rng{static_cast<std::uint32_t>(data[4]) | static_cast<std::uint32_t>(data[5]) << 8 |
          static_cast<std::uint32_t>(data[6]) << 16 | static_cast<std::uint32_t>(data[7]) << 24};
  std::string_view input(reinterpret_cast<const char*>(data) + 8, size - 8);

  ServerSession s(policy, facts);
  Driver d{s, policy, rng};
  d.pump();
  while (!input.empty()) {
    const std::size_t n = std::min<std::size_t>(input.size(), 1 + d.rng.next() % 97);
    s.receive(input.substr(0, n));
    input.remove_prefix(n);
    d.pump();
    d.maybe_take();
    check(s.buffered_input() <= ServerSession::kMaxPendingInput + LineReader::kMaxAuthLine);
    const std::uint32_t event = d.rng.next() % 256;
    if (event < 64) {
      d.deliver_pending();
    } else if (event == 64) {
      s.shutdown();
    } else if (event == 65) {
      s.timer_fired();
    }
    d.pump();
  }
  d.deliver_pending();
  d.pump();
  s.receive_eof();
  d.pump();
  check(d.closed);
  check(!s.next_action().has_value());
  return 0;
}
