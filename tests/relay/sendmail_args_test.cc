#include "relay/sendmail_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::relay {
namespace {

using std::chrono::milliseconds;
using Args = std::vector<std::string>;

std::string join(const Args& args) {
  std::string out;
  for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

struct Row {
  Args args;
  // What the parse must produce (only the fields a row cares about are compared by its check).
  bool t = false;
  bool dot_ends = true;
  std::optional<std::string> sender;
  std::optional<std::string> full_name;
  bool verbose = false;
  Args recipients;
  Args ignored;
};

TEST(SendmailArgs, SendmailForms) {
  const Row rows[] = {
      {{}, false, true, {}, {}, false, {}, {}},
      {{"bob@example.org"}, false, true, {}, {}, false, {"bob@example.org"}, {}},
      {{"-t", "-i"}, true, false, {}, {}, false, {}, {}},
      {{"-ti"}, true, false, {}, {}, false, {}, {}},              // grouped flags
      {{"-it"}, true, false, {}, {}, false, {}, {}},
      {{"-oi"}, false, false, {}, {}, false, {}, {}},              // -oi is -i
      {{"-o", "i"}, false, false, {}, {}, false, {}, {}},
      {{"-f", "a@b.test", "x@y.test"}, false, true, "a@b.test", {}, false, {"x@y.test"}, {}},
      {{"-fa@b.test", "x@y.test"}, false, true, "a@b.test", {}, false, {"x@y.test"}, {}},
      {{"-r", "a@b.test"}, false, true, "a@b.test", {}, false, {}, {}},   // -r is -f
      {{"-ra@b.test"}, false, true, "a@b.test", {}, false, {}, {}},
      {{"-f", "<>"}, false, true, "<>", {}, false, {}, {}},
      {{"-f", ""}, false, true, "", {}, false, {}, {}},
      {{"-tif", "a@b.test"}, true, false, "a@b.test", {}, false, {}, {}},  // flags then a value option
      {{"-F", "Cron Daemon", "root"}, false, true, {}, "Cron Daemon", false, {"root"}, {}},
      {{"-FCronDaemon"}, false, true, {}, "CronDaemon", false, {}, {}},
      {{"-v"}, false, true, {}, {}, true, {}, {}},
      // accepted and ignored, as sendmail programs pass them (cron, mutt, PHP)
      {{"-odi", "-oem", "-oQ/var/spool", "-bm"}, false, true, {}, {}, false, {}, {"-odi", "-oem", "-oQ/var/spool", "-bm"}},
      {{"-B8BITMIME", "-N", "never", "-i", "root"}, false, false, {}, {}, false, {"root"}, {"-B8BITMIME", "-Nnever"}},
      {{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"}, false, false, {}, "CronDaemon", false, {"root"}, {"-B8BITMIME", "-oem"}},
      {{"-U", "-m"}, false, true, {}, {}, false, {}, {"-U", "-m"}},
      // options anywhere before "--"; after it everything is a recipient
      {{"a@b.test", "-t", "c@d.test"}, true, true, {}, {}, false, {"a@b.test", "c@d.test"}, {}},
      {{"-t", "--", "-x@y.test", "-i"}, true, true, {}, {}, false, {"-x@y.test", "-i"}, {}},
      {{"-"}, false, true, {}, {}, false, {"-"}, {}},                // a lone "-" is an operand
  };
  for (const Row& r : rows) {
    auto got = parse_sendmail_args(r.args);
    ASSERT_TRUE(got.has_value()) << join(r.args) << ": " << got.error().message();
    EXPECT_EQ(got->recipients_from_headers, r.t) << join(r.args);
    EXPECT_EQ(got->dot_ends_input, r.dot_ends) << join(r.args);
    EXPECT_EQ(got->sender, r.sender) << join(r.args);
    EXPECT_EQ(got->full_name, r.full_name) << join(r.args);
    EXPECT_EQ(got->verbose, r.verbose) << join(r.args);
    EXPECT_EQ(got->recipients, r.recipients) << join(r.args);
    EXPECT_EQ(got->ignored, r.ignored) << join(r.args);
  }
}

TEST(SendmailArgs, LongOptions) {
  auto got = parse_sendmail_args({"--server", "mail.example.org:587", "--starttls", "--user=app",
                                  "--password-file", "/run/secrets/pw", "--cafile=/ca.pem", "--insecure",
                                  "--config", "/etc/t.toml", "--timeout=1m30s", "-t"});
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(got->server, "mail.example.org:587");
  EXPECT_EQ(got->tls, SendmailTls::StartTls);
  EXPECT_EQ(got->user, "app");
  EXPECT_EQ(got->password_file, "/run/secrets/pw");
  EXPECT_EQ(got->ca_file, "/ca.pem");
  EXPECT_TRUE(got->insecure);
  EXPECT_EQ(got->config_path, "/etc/t.toml");
  EXPECT_EQ(got->timeout, milliseconds(90'000));
  EXPECT_TRUE(got->recipients_from_headers);

  auto tls = parse_sendmail_args({"--tls", "--server=[::1]:465"});
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(tls->tls, SendmailTls::Implicit);
  EXPECT_EQ(tls->server, "[::1]:465");
  auto defaults = parse_sendmail_args({});
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(defaults->tls, SendmailTls::None);
  EXPECT_FALSE(defaults->insecure);
  EXPECT_FALSE(defaults->timeout.has_value());
}

TEST(SendmailArgs, UsageErrors) {
  struct Bad {
    Args args;
    std::string want;  // a part of the message
  };
  const Bad rows[] = {
      {{"-bs"}, "unsupported mode -bs"},
      {{"-bp"}, "unsupported mode -bp"},
      {{"-bd"}, "unsupported mode -bd"},
      {{"-b", "s"}, "unsupported mode -bs"},
      {{"-bi"}, "unsupported mode -bi"},
      {{"-q"}, "unsupported option -q"},
      {{"-q1h"}, "unsupported option -q1h"},
      {{"-I"}, "unsupported option -I"},
      {{"-Z"}, "unknown option -Z"},
      {{"-tZ"}, "unknown option -Z"},
      {{"-f"}, "option -f needs a value"},
      {{"-t", "-F"}, "option -F needs a value"},
      {{"--server"}, "option --server needs a value"},
      {{"--bogus"}, "unknown option --bogus"},
      {{"--tls=yes"}, "takes no value"},
      {{"--tls", "--starttls"}, "exclude each other"},
      {{"--timeout", "30"}, "a unit is missing"},
      {{"--timeout", "5x"}, "unknown unit"},
  };
  for (const Bad& r : rows) {
    auto got = parse_sendmail_args(r.args);
    ASSERT_FALSE(got.has_value()) << join(r.args);
    EXPECT_NE(got.error().message().find(r.want), std::string::npos)
        << join(r.args) << ": " << got.error().message();
  }
}

TEST(SendmailArgs, Timeouts) {
  struct T {
    std::string text;
    std::optional<long> want_ms;
  };
  const T rows[] = {
      {"30s", 30'000}, {"500ms", 500}, {"5m", 300'000}, {"1h", 3'600'000}, {"1m30s", 90'000},
      {"24h", 86'400'000}, {"1d", 86'400'000}, {"25h", std::nullopt}, {"0s", std::nullopt},
      {"", std::nullopt}, {"s", std::nullopt}, {"10", std::nullopt}, {"-1s", std::nullopt}, {"1.5s", std::nullopt},
      {"99999999999999999999s", std::nullopt},
  };
  for (const T& r : rows) {
    auto got = parse_sendmail_timeout(r.text);
    if (r.want_ms) {
      ASSERT_TRUE(got.has_value()) << r.text << ": " << got.error().message();
      EXPECT_EQ(got->count(), *r.want_ms) << r.text;
    } else {
      EXPECT_FALSE(got.has_value()) << r.text;
    }
  }
}

}  // namespace
}  // namespace tern::relay
