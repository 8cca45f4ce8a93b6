#pragma once
// What follows a delivery attempt, for one recipient (Postfix smtp_trouble.c):
// the whole failure policy in one pure, table-tested function. Inputs are the
// facts the client session and resolver established; the verdict is deliver,
// try the next MX host, defer (retry later) or bounce. Nothing here does I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smtp/client_session.h"

namespace tern::relay {

enum class Verdict { Delivered, NextHost, Defer, Bounce };

struct AttemptFacts {
  smtp::RecipientResult::Status status = smtp::RecipientResult::Status::Transient;
  std::optional<smtp::FailureScope> scope;  // nullopt: decided by the recipient's own reply
  bool last_host = true;                    // no further MX host to try for this attempt
  bool expired = false;                     // received_at + delivery.max_queue_lifetime has passed
};

// - Delivered stays delivered.
// - Site-scope failures (connect, greeting, TLS, AUTH, 421, timeout, lost
//   connection) try the next MX host, else defer: a broken host never bounces
//   mail that another host or a later attempt may take (a 5xx greeting too,
//   as Postfix's smtp_skip_5xx_greeting).
// - Message- and recipient-scope failures: 4xx defers, 5xx bounces.
// - A deferral past the queue lifetime bounces.
Verdict decide(const AttemptFacts& facts);

std::string_view verdict_name(Verdict verdict);  // "delivered", "next_host", "deferred", "bounced"

// When to try again after the `attempts`-th failed attempt (1-based):
// schedule[attempts-1], the last entry repeating, spread by ±10% jitter so
// that a burst of deferrals does not retry as a burst. `random` is any
// uniformly distributed 64-bit value (injected, so tests are deterministic).
std::chrono::milliseconds retry_delay(int attempts, const std::vector<std::chrono::milliseconds>& schedule,
                                      std::uint64_t random);

}  // namespace tern::relay
