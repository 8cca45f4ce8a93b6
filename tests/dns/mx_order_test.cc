#include "dns/mx_order.h"

#include <gtest/gtest.h>

#include <set>

namespace tern::dns {
namespace {

std::vector<std::string> hosts(const std::vector<MxRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.host);
  return out;
}

TEST(OrderMx, ByPreference) {
  std::mt19937_64 rng(1);
  struct Row {
    std::vector<MxRecord> in;
    std::vector<std::string> want;
  } rows[] = {
      {{}, {}},
      {{{"b", 20}, {"a", 10}}, {"a", "b"}},
      {{{"c", 30}, {"a", 0}, {"b", 65535}}, {"a", "c", "b"}},
      {{{"a", 20}, {"a", 10}, {"b", 15}}, {"a", "b"}},  // a host listed twice keeps its best preference
  };
  for (const auto& r : rows) EXPECT_EQ(hosts(order_mx(r.in, rng)), r.want);
}

TEST(OrderMx, EqualPreferencesShuffledWithinTheirRank) {
  std::mt19937_64 rng(42);
  std::vector<MxRecord> in = {{"z", 5}, {"a", 10}, {"b", 10}, {"c", 10}, {"last", 20}};
  std::set<std::vector<std::string>> seen;
  // 6 orders of a/b/c; with 500 draws missing one has probability ~6*(5/6)^500.
  for (int i = 0; i < 500 && seen.size() < 6; ++i) {
    auto out = hosts(order_mx(in, rng));
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out.front(), "z");
    EXPECT_EQ(out.back(), "last");
    seen.insert({out[1], out[2], out[3]});
  }
  EXPECT_EQ(seen.size(), 6u);
}

}  // namespace
}  // namespace tern::dns
