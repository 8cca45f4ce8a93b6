#include "relay/failure_policy.h"

#include <gtest/gtest.h>

namespace tern::relay {
namespace {

using S = smtp::RecipientResult::Status;
using Scope = smtp::FailureScope;

struct Row {
  S status;
  std::optional<Scope> scope;
  bool last_host;
  bool expired;
  Verdict want;
};

TEST(FailurePolicy, Table) {
  const Row rows[] = {
      {S::Delivered, std::nullopt, true, false, Verdict::Delivered},
      {S::Delivered, std::nullopt, true, true, Verdict::Delivered},
      // site trouble: next host while there is one, then defer, bounce once expired
      {S::Transient, Scope::Site, false, false, Verdict::NextHost},
      {S::Transient, Scope::Site, true, false, Verdict::Defer},
      {S::Transient, Scope::Site, true, true, Verdict::Bounce},
      {S::Permanent, Scope::Site, false, false, Verdict::NextHost},  // 5xx greeting: skip the host
      {S::Permanent, Scope::Site, true, false, Verdict::Defer},
      // message trouble (MAIL FROM, DATA): 4xx defers, 5xx bounces
      {S::Transient, Scope::Message, false, false, Verdict::Defer},
      {S::Permanent, Scope::Message, false, false, Verdict::Bounce},
      {S::Transient, Scope::Message, true, true, Verdict::Bounce},
      // recipient trouble (RCPT TO, or the final reply for accepted recipients)
      {S::Transient, std::nullopt, false, false, Verdict::Defer},
      {S::Permanent, std::nullopt, false, false, Verdict::Bounce},
      {S::Transient, Scope::Recipient, true, false, Verdict::Defer},
      {S::Permanent, Scope::Recipient, true, false, Verdict::Bounce},
      {S::Transient, std::nullopt, true, true, Verdict::Bounce},
  };
  for (const Row& r : rows) {
    AttemptFacts f{r.status, r.scope, r.last_host, r.expired};
    EXPECT_EQ(decide(f), r.want) << "status=" << static_cast<int>(r.status)
                                 << " scope=" << (r.scope ? static_cast<int>(*r.scope) : -1)
                                 << " last=" << r.last_host << " expired=" << r.expired;
  }
}

TEST(FailurePolicy, RetryDelayFollowsScheduleWithBoundedJitter) {
  using std::chrono::milliseconds;
  using std::chrono::minutes;
  const std::vector<milliseconds> schedule = {minutes(5), minutes(10), minutes(20)};
  for (std::uint64_t r : {0ull, 1ull << 40, ~0ull, 0x123456789abcdef0ull}) {
    for (int attempt = 1; attempt <= 6; ++attempt) {
      milliseconds base = schedule[std::min<std::size_t>(attempt - 1, schedule.size() - 1)];
      milliseconds d = retry_delay(attempt, schedule, r);
      EXPECT_GE(d.count(), base.count() * 9 / 10) << attempt;
      EXPECT_LE(d.count(), base.count() * 11 / 10) << attempt;
    }
  }
  // different random values spread the delays
  EXPECT_NE(retry_delay(1, schedule, 0), retry_delay(1, schedule, ~0ull));
  // never below one second, even for a tiny schedule
  EXPECT_GE(retry_delay(1, {milliseconds(1000)}, 0).count(), 1000);
}

}  // namespace
}  // namespace tern::relay
