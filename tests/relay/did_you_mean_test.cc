#include "relay/did_you_mean.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::relay {
namespace {

TEST(EditDistance, Table) {
  struct Case {
    std::string a, b;
    std::size_t want;
  };
  const Case cases[] = {
      {"", "", 0},           {"abc", "", 3},          {"", "abc", 3},         {"listen", "listen", 0},
      {"listn", "listen", 1}, {"workres", "workers", 1}, {"ab", "ba", 1},      {"kitten", "sitting", 3},
      {"LISTEN", "listen", 0}, {"abc", "xyz", 3},       {"ca", "abc", 3},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(edit_distance(c.a, c.b), c.want) << c.a << " / " << c.b;
    EXPECT_EQ(edit_distance(c.b, c.a), c.want) << c.b << " / " << c.a;
  }
}

TEST(DidYouMean, PicksTheClosePlausibleCandidate) {
  const std::vector<std::string> keys{"submission.listen", "submission.listen_tls", "delivery.workers",
                                      "delivery.mode"};
  EXPECT_EQ(did_you_mean("submission.listn", keys), "submission.listen");
  EXPECT_EQ(did_you_mean("submission.listen_tsl", keys), "submission.listen_tls");
  EXPECT_EQ(did_you_mean("delivery.workrs", keys), "delivery.workers");
  EXPECT_EQ(did_you_mean("Delivery.Mode", keys), "delivery.mode");
  EXPECT_EQ(did_you_mean("delivery.frobnicate", keys), std::nullopt);
  EXPECT_EQ(did_you_mean("x", keys), std::nullopt);
  EXPECT_EQ(did_you_mean("anything", {}), std::nullopt);
}

}  // namespace
}  // namespace tern::relay
