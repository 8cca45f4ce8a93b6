#include "relay/trace_cmd.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "smtp/received.h"

namespace tern::relay {
namespace {

using std::chrono::seconds;

TEST(TraceCmd, FormatDelayTable) {
  struct Row {
    std::optional<long> delay;
    bool first;
    const char* want;
  };
  const Row rows[] = {
      {std::nullopt, true, "-"},   {5, true, "-"},
      {std::nullopt, false, "?"},  {0, false, "+0s"},
      {2, false, "+2s"},           {59, false, "+59s"},
      {60, false, "+1m00s"},       {65, false, "+1m05s"},
      {3599, false, "+59m59s"},    {3602, false, "+1h00m02s"},
      {86399, false, "+23h59m59s"}, {90061, false, "+1d01h01m01s"},
      {-1, false, "-1s"},          {-65, false, "-1m05s"},
  };
  for (const Row& r : rows) {
    std::optional<seconds> d;
    if (r.delay) d = seconds{*r.delay};
    EXPECT_EQ(format_delay(d, r.first), r.want) << (r.delay ? *r.delay : -999);
  }
}

const char* kMessage =
    "Received: (qmail 1 invoked by uid 89); 25 Nov 2025 10:01:05 -0000\r\n"
    "Received: from b.example (b.example [192.0.2.2]) by c.example with ESMTPS id C2;\r\n"
    "\tTue, 25 Nov 2025 10:00:00 +0000\r\n"
    "Received: from a.example (a.example [192.0.2.1]) by b.example with ESMTP id B1;\r\n"
    "\tTue, 25 Nov 2025 10:00:02 +0000\r\n"
    "Received: by a.example id A0; not a date\r\n"
    "\r\n";

TEST(TraceCmd, TableLinesUpColumns) {
  // Columns are as wide as their widest cell, two spaces apart.
  std::string want =
      "1  ?                     -       ? -> a.example                      ?       A0\n"
      "2  2025-11-25T10:00:02Z  ?       a.example [192.0.2.1] -> b.example  ESMTP   B1\n"
      "3  2025-11-25T10:00:00Z  -2s     b.example [192.0.2.2] -> c.example  ESMTPS  C2\n"
      "4  2025-11-25T10:01:05Z  +1m05s  (qmail 1 invoked by uid 89)         ?       ?\n";
  EXPECT_EQ(trace_table(smtp::received_chain(kMessage)), want);
}

TEST(TraceCmd, TableNeutralisesControlBytes) {
  std::string table = trace_table(smtp::received_chain("Received: from a\x1b[31m by b\x07; x\r\n\r\n"));
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << table;
  EXPECT_EQ(table.find('\x07'), std::string::npos) << table;
  EXPECT_NE(table.find("a?[31m -> b?"), std::string::npos) << table;
}

TEST(TraceCmd, JsonHasExactlyTheInterfaceKeys) {
  nlohmann::json j = nlohmann::json::parse(trace_json(smtp::received_chain(kMessage)));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  for (const auto& hop : j) {
    std::vector<std::string> keys;
    for (const auto& item : hop.items()) keys.push_back(item.key());
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys, (std::vector<std::string>{"by", "delay_seconds", "from", "id", "timestamp", "with"}));
  }
  EXPECT_TRUE(j[0]["from"].is_null());
  EXPECT_EQ(j[0]["by"], "a.example");
  EXPECT_TRUE(j[0]["with"].is_null());
  EXPECT_EQ(j[0]["id"], "A0");
  EXPECT_TRUE(j[0]["timestamp"].is_null());
  EXPECT_TRUE(j[0]["delay_seconds"].is_null());
  EXPECT_EQ(j[1]["from"], "a.example [192.0.2.1]");
  EXPECT_EQ(j[1]["timestamp"], "2025-11-25T10:00:02Z");
  EXPECT_TRUE(j[1]["delay_seconds"].is_null());  // the previous hop has no timestamp
  EXPECT_EQ(j[2]["delay_seconds"], -2);
  EXPECT_EQ(j[3]["delay_seconds"], 65);
  EXPECT_TRUE(j[3]["by"].is_null());
}

TEST(TraceCmd, JsonSurvivesInvalidUtf8) {
  std::string out = trace_json(smtp::received_chain("Received: from a\xff\xfe by b; x\r\n\r\n"));
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j[0]["by"], "b");
}

TEST(TraceCmd, DotChainsHostsByName) {
  std::string want =
      "digraph received {\n"
      "  rankdir=LR;\n"
      "  node [shape=box];\n"
      "  n0 [label=\"?\"];\n"
      "  n1 [label=\"a.example\"];\n"
      "  n2 [label=\"b.example\"];\n"
      "  n3 [label=\"c.example\"];\n"
      "  n4 [label=\"(qmail 1 invoked by uid 89)\"];\n"
      "  n0 -> n1 [label=\"-\"];\n"
      "  n1 -> n2 [label=\"?\"];\n"
      "  n2 -> n3 [label=\"-2s\"];\n"
      "  n3 -> n4 [label=\"+1m05s\"];\n"
      "}\n";
  EXPECT_EQ(trace_dot(smtp::received_chain(kMessage)), want);
}

TEST(TraceCmd, DotQuotesLabels) {
  std::string dot = trace_dot(smtp::received_chain("Received: from a\"b\\c by d\r\n\r\n"));
  EXPECT_NE(dot.find("[label=\"a\\\"b\\\\c\"]"), std::string::npos) << dot;
}

}  // namespace
}  // namespace tern::relay
