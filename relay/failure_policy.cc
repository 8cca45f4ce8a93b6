// The delivery failure policy and retry spacing. See failure_policy.h.
#include "relay/failure_policy.h"

namespace tern::relay {

using Status = smtp::RecipientResult::Status;

Verdict decide(const AttemptFacts& facts) {
  if (facts.status == Status::Delivered) return Verdict::Delivered;
  Verdict verdict;
  if (facts.scope == smtp::FailureScope::Site) {
    verdict = facts.last_host ? Verdict::Defer : Verdict::NextHost;
  } else {
    verdict = facts.status == Status::Permanent ? Verdict::Bounce : Verdict::Defer;
  }
  if (verdict == Verdict::Defer && facts.expired) verdict = Verdict::Bounce;
  return verdict;
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Delivered: return "delivered";
    case Verdict::NextHost: return "next_host";
    case Verdict::Defer: return "deferred";
    case Verdict::Bounce: return "bounced";
  }
  return "unknown";
}

std::chrono::milliseconds retry_delay(int attempts, const std::vector<std::chrono::milliseconds>& schedule,
                                      std::uint64_t random) {
  if (schedule.empty()) return std::chrono::minutes(5);
  std::size_t index = attempts <= 1 ? 0 : static_cast<std::size_t>(attempts - 1);
  if (index >= schedule.size()) index = schedule.size() - 1;
  const std::int64_t base = schedule[index].count();
  // jitter in [-10%, +10%] of base, from the top 32 bits of `random`
  const std::int64_t span = base / 5;
  const std::int64_t offset =
      span == 0 ? 0 : static_cast<std::int64_t>((random >> 32) % static_cast<std::uint64_t>(span + 1)) - span / 2;
  std::int64_t delay = base + offset;
  if (delay < 1000) delay = 1000;
  return std::chrono::milliseconds(delay);
}

}  // namespace tern::relay
