// Tests metrics/metrics.cc through its serialization, the way Prometheus sees
// it: every family and labelled series exists at start, methods move the
// right series, labels stay bounded, and promtool accepts the output.

#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace tern::metrics {
namespace {

using namespace std::chrono_literals;

// The text exposition format, reduced to what the tests ask about.
struct Exposition {
  std::map<std::string, std::string> type;  // family -> counter|gauge|histogram
  std::map<std::string, std::string> help;  // family -> help text
  std::map<std::string, double> value;      // series as printed ("name{a=\"b\"}") -> value
};

Exposition parse(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0 || line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      const auto sp = rest.find(' ');
      (line[2] == 'T' ? e.type : e.help)[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    if (line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    e.value[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return e;
}

double value(const Metrics& m, const std::string& series) {
  const auto e = parse(m.serialize());
  const auto it = e.value.find(series);
  if (it == e.value.end()) {
    ADD_FAILURE() << "no series " << series;
    return -1;
  }
  return it->second;
}

// Count series of one family (excluding histogram suffixes of other names).
int series_count(const Exposition& e, const std::string& family) {
  int n = 0;
  for (const auto& [series, v] : e.value) {
    if (series == family || series.rfind(family + "{", 0) == 0) ++n;
  }
  return n;
}

TEST(Metrics, EveryFamilyIsDeclaredWithTypeAndHelp) {
  Metrics m;
  const auto e = parse(m.serialize());
  const std::map<std::string, std::string> want = {
      {"tern_messages_received_total", "counter"}, {"tern_messages_rejected_total", "counter"},
      {"tern_deliveries_total", "counter"},        {"tern_queue_messages", "gauge"},
      {"tern_queue_oldest_age_seconds", "gauge"},  {"tern_delivery_duration_seconds", "histogram"},
      {"tern_smtp_sessions_active", "gauge"},      {"tern_auth_failures_total", "counter"},
      {"tern_dns_queries_total", "counter"},       {"tern_tls_handshakes_total", "counter"},
  };
  EXPECT_EQ(e.type, want);
  for (const auto& [name, type] : want) {
    ASSERT_TRUE(e.help.count(name)) << name;
    EXPECT_FALSE(e.help.at(name).empty()) << name;
  }
}

TEST(Metrics, EveryLabelledSeriesExistsAtZeroFromStart) {
  Metrics m;
  const auto e = parse(m.serialize());
  std::vector<std::string> want = {
      R"(tern_messages_received_total{listener="submission"})",
      R"(tern_messages_received_total{listener="submissions"})",
      R"(tern_deliveries_total{result="delivered"})",
      R"(tern_deliveries_total{result="deferred"})",
      R"(tern_deliveries_total{result="bounced"})",
      R"(tern_queue_messages{state="ready"})",
      R"(tern_queue_messages{state="deferred"})",
      R"(tern_queue_messages{state="held"})",
      R"(tern_queue_oldest_age_seconds)",
      R"(tern_delivery_duration_seconds_count)",
      R"(tern_delivery_duration_seconds_sum)",
      R"(tern_delivery_duration_seconds_bucket{le="+Inf"})",
      R"(tern_smtp_sessions_active{direction="inbound"})",
      R"(tern_smtp_sessions_active{direction="outbound"})",
      R"(tern_auth_failures_total)",
      R"(tern_dns_queries_total{result="ok"})",
      R"(tern_dns_queries_total{result="nxdomain"})",
      R"(tern_dns_queries_total{result="servfail"})",
      R"(tern_dns_queries_total{result="timeout"})",
      R"(tern_tls_handshakes_total{direction="inbound",result="ok"})",
      R"(tern_tls_handshakes_total{direction="inbound",result="failed"})",
      R"(tern_tls_handshakes_total{direction="outbound",result="ok"})",
      R"(tern_tls_handshakes_total{direction="outbound",result="failed"})",
  };
  for (std::string_view r : rejection_reasons()) {
    want.push_back("tern_messages_rejected_total{reason=\"" + std::string(r) + "\"}");
  }
  for (const auto& series : want) {
    const auto it = e.value.find(series);
    ASSERT_NE(it, e.value.end()) << series << " missing from:\n" << m.serialize();
    EXPECT_EQ(it->second, 0) << series;
  }
  EXPECT_EQ(series_count(e, "tern_messages_rejected_total"), 12);
  EXPECT_EQ(series_count(e, "tern_tls_handshakes_total"), 4);
}

TEST(Metrics, RejectionReasonsAreTheContract) {
  const std::vector<std::string_view> want = {"size",         "recipients",  "relay",   "auth",
                                              "syntax",       "bare_newline", "line_length", "storage",
                                              "timeout",      "sequence",    "connections", "other"};
  EXPECT_EQ(std::vector<std::string_view>(rejection_reasons().begin(), rejection_reasons().end()), want);
}

TEST(Metrics, HistogramHasTheMailBuckets) {
  Metrics m;
  const auto e = parse(m.serialize());
  for (const char* le : {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "900", "3600",
                         "14400", "86400", "+Inf"}) {
    EXPECT_TRUE(e.value.count(std::string("tern_delivery_duration_seconds_bucket{le=\"") + le + "\"}")) << le;
  }
  EXPECT_EQ(series_count(e, "tern_delivery_duration_seconds_bucket"), 16);
}

// Each row calls one method and names the one series that must move by `by`.
struct Move {
  const char* what;
  void (*act)(Metrics&);
  const char* series;
  double by;
};

const Move kMoves[] = {
    {"received 587", [](Metrics& m) { m.message_received(Listener::Submission); },
     R"(tern_messages_received_total{listener="submission"})", 1},
    {"received 465", [](Metrics& m) { m.message_received(Listener::Submissions); },
     R"(tern_messages_received_total{listener="submissions"})", 1},
    {"rejected size", [](Metrics& m) { m.message_rejected("size"); }, R"(tern_messages_rejected_total{reason="size"})",
     1},
    {"rejected connections", [](Metrics& m) { m.message_rejected("connections"); },
     R"(tern_messages_rejected_total{reason="connections"})", 1},
    {"rejected other", [](Metrics& m) { m.message_rejected("other"); },
     R"(tern_messages_rejected_total{reason="other"})", 1},
    {"rejected unknown", [](Metrics& m) { m.message_rejected("example.com"); },
     R"(tern_messages_rejected_total{reason="other"})", 1},
    {"rejected empty", [](Metrics& m) { m.message_rejected(""); }, R"(tern_messages_rejected_total{reason="other"})",
     1},
    {"rejected case", [](Metrics& m) { m.message_rejected("SIZE"); }, R"(tern_messages_rejected_total{reason="other"})",
     1},
    {"delivered", [](Metrics& m) { m.delivery(DeliveryResult::Delivered); }, R"(tern_deliveries_total{result="delivered"})",
     1},
    {"deferred", [](Metrics& m) { m.delivery(DeliveryResult::Deferred); }, R"(tern_deliveries_total{result="deferred"})",
     1},
    {"bounced", [](Metrics& m) { m.delivery(DeliveryResult::Bounced); }, R"(tern_deliveries_total{result="bounced"})", 1},
    {"queue ready", [](Metrics& m) { m.set_queue_messages(7, 0, 0); }, R"(tern_queue_messages{state="ready"})", 7},
    {"queue deferred", [](Metrics& m) { m.set_queue_messages(0, 8, 0); }, R"(tern_queue_messages{state="deferred"})", 8},
    {"queue held", [](Metrics& m) { m.set_queue_messages(0, 0, 9); }, R"(tern_queue_messages{state="held"})", 9},
    {"oldest age", [](Metrics& m) { m.set_queue_oldest_age(2min); }, "tern_queue_oldest_age_seconds", 120},
    {"oldest age ms", [](Metrics& m) { m.set_queue_oldest_age(1500ms); }, "tern_queue_oldest_age_seconds", 1.5},
    {"duration count", [](Metrics& m) { m.observe_delivery_duration(3s); }, "tern_delivery_duration_seconds_count", 1},
    {"duration sum", [](Metrics& m) { m.observe_delivery_duration(250ms); }, "tern_delivery_duration_seconds_sum", 0.25},
    {"duration bucket", [](Metrics& m) { m.observe_delivery_duration(3s); },
     R"(tern_delivery_duration_seconds_bucket{le="5"})", 1},
    {"duration under bucket", [](Metrics& m) { m.observe_delivery_duration(3s); },
     R"(tern_delivery_duration_seconds_bucket{le="2.5"})", 0},
    {"session in", [](Metrics& m) { m.session_opened(Direction::Inbound); },
     R"(tern_smtp_sessions_active{direction="inbound"})", 1},
    {"session out", [](Metrics& m) { m.session_opened(Direction::Outbound); },
     R"(tern_smtp_sessions_active{direction="outbound"})", 1},
    {"session in closed", [](Metrics& m) { m.session_opened(Direction::Inbound); m.session_opened(Direction::Inbound); m.session_closed(Direction::Inbound); },
     R"(tern_smtp_sessions_active{direction="inbound"})", 1},
    {"auth failure", [](Metrics& m) { m.auth_failure(); }, "tern_auth_failures_total", 1},
    {"dns ok", [](Metrics& m) { m.dns_query(DnsResult::Ok); }, R"(tern_dns_queries_total{result="ok"})", 1},
    {"dns nx", [](Metrics& m) { m.dns_query(DnsResult::NxDomain); }, R"(tern_dns_queries_total{result="nxdomain"})", 1},
    {"dns servfail", [](Metrics& m) { m.dns_query(DnsResult::ServFail); }, R"(tern_dns_queries_total{result="servfail"})",
     1},
    {"dns timeout", [](Metrics& m) { m.dns_query(DnsResult::Timeout); }, R"(tern_dns_queries_total{result="timeout"})",
     1},
    {"tls in ok", [](Metrics& m) { m.tls_handshake(Direction::Inbound, true); },
     R"(tern_tls_handshakes_total{direction="inbound",result="ok"})", 1},
    {"tls in failed", [](Metrics& m) { m.tls_handshake(Direction::Inbound, false); },
     R"(tern_tls_handshakes_total{direction="inbound",result="failed"})", 1},
    {"tls out ok", [](Metrics& m) { m.tls_handshake(Direction::Outbound, true); },
     R"(tern_tls_handshakes_total{direction="outbound",result="ok"})", 1},
    {"tls out failed", [](Metrics& m) { m.tls_handshake(Direction::Outbound, false); },
     R"(tern_tls_handshakes_total{direction="outbound",result="failed"})", 1},
};

TEST(Metrics, EachMethodMovesExactlyItsSeries) {
  for (const Move& mv : kMoves) {
    SCOPED_TRACE(mv.what);
    Metrics m;
    const auto before = parse(m.serialize()).value;
    mv.act(m);
    const auto after = parse(m.serialize()).value;
    ASSERT_EQ(after.size(), before.size()) << "a series appeared";
    for (const auto& [series, v] : after) {
      // A histogram observation also moves _count, _sum and the buckets above.
      if (series.rfind("tern_delivery_duration_seconds", 0) == 0 && series != mv.series) continue;
      const double want = series == mv.series ? mv.by : 0;
      EXPECT_DOUBLE_EQ(v, want) << series;
    }
    EXPECT_TRUE(after.count(mv.series)) << mv.series;
  }
}

TEST(Metrics, GaugesAreSetNotAdded) {
  Metrics m;
  m.set_queue_messages(5, 6, 7);
  m.set_queue_messages(1, 2, 3);
  EXPECT_EQ(value(m, R"(tern_queue_messages{state="ready"})"), 1);
  EXPECT_EQ(value(m, R"(tern_queue_messages{state="deferred"})"), 2);
  EXPECT_EQ(value(m, R"(tern_queue_messages{state="held"})"), 3);
  m.set_queue_oldest_age(10s);
  m.set_queue_oldest_age(0s);
  EXPECT_EQ(value(m, "tern_queue_oldest_age_seconds"), 0);
}

TEST(Metrics, UnknownReasonsKeepTheLabelSetBounded) {
  Metrics m;
  for (int i = 0; i < 1000; ++i) m.message_rejected("reason-" + std::to_string(i));
  const auto e = parse(m.serialize());
  EXPECT_EQ(series_count(e, "tern_messages_rejected_total"), 12);
  EXPECT_EQ(e.value.at(R"(tern_messages_rejected_total{reason="other"})"), 1000);
}

TEST(Metrics, CountsFromManyThreadsAddUp) {
  Metrics m;
  constexpr int kThreads = 4;
  constexpr int kEach = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kEach; ++i) {
        m.delivery(DeliveryResult::Delivered);
        m.session_opened(Direction::Outbound);
        m.session_closed(Direction::Outbound);
      }
    });
  }
  // Scrapes race the writers: each must parse.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(parse(m.serialize()).value.empty());
  for (auto& t : threads) t.join();
  EXPECT_EQ(value(m, R"(tern_deliveries_total{result="delivered"})"), kThreads * kEach);
  EXPECT_EQ(value(m, R"(tern_smtp_sessions_active{direction="outbound"})"), 0);
}

// promtool's lint is the judge of the exposition (naming, _total, HELP).
TEST(Metrics, PromtoolAcceptsTheExposition) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  Metrics m;
  m.message_received(Listener::Submission);
  m.message_rejected("weird");
  m.observe_delivery_duration(42s);
  m.tls_handshake(Direction::Outbound, false);

  const std::string path = std::string(TERN_BINARY_DIR) + "/metrics_test_exposition_" + std::to_string(getpid()) + ".txt";
  {
    std::ofstream(path) << m.serialize();
  }
  const std::string cmd = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = pclose(p);
  std::remove(path.c_str());
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "promtool said:\n" << out;
  EXPECT_EQ(out, "");
}

// And it must be able to fail: a counter without _total is linted.
TEST(Metrics, PromtoolRejectsABadExposition) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  FILE* p = popen("printf '# HELP x_count a\\n# TYPE x_count counter\\nx_count 1\\n' | /usr/bin/promtool check metrics >/dev/null 2>&1", "r");
  ASSERT_NE(p, nullptr);
  const int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

}  // namespace
}  // namespace tern::metrics
