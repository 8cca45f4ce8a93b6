// Refusals: unknown keys and variables, wrong types, TOML syntax, and every
// validation rule, each error naming its key and where the value came from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "relay/config.h"
#include "tests/relay/config_fixture.h"

namespace tern::relay {
namespace {

using testing::ConfigTest;
using ::testing::HasSubstr;

// "$FILE" in a wanted message stands for the config file's path.
struct Refusal {
  std::string toml;  // "" = no file
  Env env;
  std::vector<std::string> want;  // substrings of the error message
};

class ConfigRefusals : public ConfigTest {
 protected:
  void expect_refused(const std::vector<Refusal>& cases) {
    for (const Refusal& r : cases) {
      Result<Config> c = r.toml.empty() ? load_env(r.env) : load_toml(r.toml, r.env);
      ASSERT_FALSE(c) << "accepted:\n" << r.toml << "\n" << to_toml(*c);
      const std::string& message = c.error().message();
      EXPECT_TRUE(c.error().is_permanent());
      for (std::string want : r.want) {
        for (std::size_t at = want.find("$FILE"); at != std::string::npos; at = want.find("$FILE", at)) {
          want.replace(at, 5, config_path());
        }
        want = expand(want);
        EXPECT_THAT(message, HasSubstr(want)) << r.toml;
      }
    }
  }
};

TEST_F(ConfigRefusals, UnknownKeysAndSections) {
  expect_refused({
      {"[submission]\nlistn = [\"0.0.0.0:587\"]\n", {},
       {"unknown key submission.listn in $FILE:2 (did you mean submission.listen?)"}},
      {"[submision]\nlisten = []\n", {}, {"unknown section [submision] in $FILE:1 (did you mean [submission]?)"}},
      {"hostnme = \"x.example\"\n", {}, {"unknown key hostnme in $FILE:1 (did you mean hostname?)"}},
      {"[delivery]\nworkers = 4\nfrobnicate = 1\n", {}, {"unknown key delivery.frobnicate in $FILE:3"}},
      {"[queue]\npath = \"/x\"\n", {}, {"unknown section [queue] in $FILE:1"}},
      // Dotted keys are the same keys; a key of one section in another is unknown.
      {"delivery.workrs = 4\n", {}, {"unknown key delivery.workrs in $FILE:1 (did you mean delivery.workers?)"}},
      {"[dns]\nworkers = 4\n", {}, {"unknown key dns.workers in $FILE:2"}},
      {"[submission.tls]\ncert = \"x\"\n", {}, {"unknown key submission.tls in $FILE:1"}},
      {"\"submission.listen\" = []\n", {}, {"unknown key submission.listen in $FILE:1"}},
  });
  // No suggestion when nothing is close.
  Result<Config> far = load_toml("[delivery]\nxyzzy = 1\n");
  ASSERT_FALSE(far);
  EXPECT_EQ(far.error().message(), "unknown key delivery.xyzzy in " + config_path() + ":2");
}

TEST_F(ConfigRefusals, UnknownEnvironmentVariables) {
  expect_refused({
      {"", {{"TERN_DELIVERY_WORKRES", "4"}},
       {"unknown environment variable TERN_DELIVERY_WORKRES (did you mean TERN_DELIVERY_WORKERS?)"}},
      {"", {{"TERN_SUBMISSION_LISTN", "0.0.0.0:587"}},
       {"unknown environment variable TERN_SUBMISSION_LISTN (did you mean TERN_SUBMISSION_LISTEN?)"}},
      {"", {{"TERN_CONFIG", "/etc/tern/tern.toml"}}, {"unknown environment variable TERN_CONFIG"}},
      {"", {{"TERN_delivery_workers", "4"}},
       {"unknown environment variable TERN_delivery_workers (did you mean TERN_DELIVERY_WORKERS?)"}},
  });
  // Variables that are not TERN_* are not ours to judge.
  Result<Config> c = load_env({{"TERNTEST_BIN", "/x"}, {"PATH", "/bin"}, {"TERN", "x"}});
  EXPECT_TRUE(c) << c.error().message();
}

TEST_F(ConfigRefusals, WrongTypes) {
  expect_refused({
      {"[delivery]\nworkers = \"4\"\n", {}, {"delivery.workers: expected an integer, got a string (in $FILE:2)"}},
      {"[delivery]\nworkers = 4.0\n", {}, {"delivery.workers: expected an integer, got a float (in $FILE:2)"}},
      {"[submission]\nrequire_auth = \"yes\"\n", {},
       {"submission.require_auth: expected a boolean (true or false), got a string"}},
      {"[submission]\nlisten = \"0.0.0.0:587\"\n", {},
       {"submission.listen: expected an array of strings, got a string (in $FILE:2)"}},
      {"[submission]\nlisten = [587]\n", {}, {"submission.listen: item 1: expected an array of strings, got an integer"}},
      {"[submission]\nidle_timeout = 300\n", {},
       {"submission.idle_timeout: expected a duration string such as \"30s\" or \"5m\", got an integer"}},
      {"[submission]\nmax_message_size = 1.5\n", {}, {"submission.max_message_size: expected an integer (bytes)"}},
      {"[submission]\nmax_message_size = true\n", {}, {"got a boolean"}},
      {"hostname = 5\n", {}, {"hostname: expected a string, got an integer (in $FILE:1)"}},
      {"spool = 1979-05-27\n", {}, {"spool: expected a string, got a date"}},
      {"[delivery]\nrelayhost = [\"smtp.example.com:587\"]\n", {},
       {"delivery.relayhost: expected a string \"host:port\" (or \"\"), got an array"}},
      {"[delivery]\nmode = 1\n", {}, {"delivery.mode: expected a string, got an integer"}},
      {"[metrics]\nlisten = false\n", {}, {"metrics.listen: expected a string"}},
      {"submission = 5\n", {}, {"submission: expected a table ([submission]), got an integer (in $FILE:1)"}},
      {"[[dns]]\ntimeout = \"5s\"\n", {}, {"dns: expected a table ([dns]), got an array"}},
      {"[submission]\ntls_cert = { path = \"x\" }\n", {}, {"submission.tls_cert: expected a string, got a table"}},
      {"", {{"TERN_DELIVERY_WORKERS", "four"}},
       {"delivery.workers: expected a decimal integer, got \"four\" (from TERN_DELIVERY_WORKERS)"}},
      {"", {{"TERN_DELIVERY_WORKERS", "4.0"}}, {"delivery.workers: expected a decimal integer"}},
      {"", {{"TERN_DELIVERY_WORKERS", ""}}, {"delivery.workers: expected a decimal integer"}},
      {"", {{"TERN_DELIVERY_WORKERS", "99999999999999999999"}}, {"delivery.workers: \"99999999999999999999\" is too large"}},
      {"", {{"TERN_SUBMISSION_IDLE_TIMEOUT", "300"}}, {"submission.idle_timeout: \"300\" is not a duration"}},
  });
}

TEST_F(ConfigRefusals, TomlSyntaxErrorsGiveLineAndColumn) {
  expect_refused({
      {"[submission\nlisten = []\n", {}, {"$FILE:1:"}},
      {"hostname = \"relay.example.com\"\nspool = \n", {}, {"$FILE:2:"}},
      {"[delivery]\nworkers = 4\nworkers = 5\n", {}, {"$FILE:3:"}},
      {"hostname = \"unterminated\n", {}, {"$FILE:1:"}},
  });
  Result<Config> c = load_toml("\n\n[delivery]\nworkers = = 4\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message(), ::testing::StartsWith(config_path() + ":4:"));
  EXPECT_THAT(c.error().message(), ::testing::MatchesRegex(".*:4:[0-9]+: .+"));
}

TEST_F(ConfigRefusals, IntegerRanges) {
  expect_refused({
      {"[delivery]\nworkers = 0\n", {}, {"delivery.workers: must be 1..256, got 0 (in $FILE:2)"}},
      {"", {{"TERN_DELIVERY_WORKERS", "0"}}, {"delivery.workers: must be 1..256, got 0 (from TERN_DELIVERY_WORKERS)"}},
      {"[delivery]\nworkers = 257\n", {}, {"delivery.workers: must be 1..256, got 257"}},
      {"[delivery]\nworkers = -1\n", {}, {"delivery.workers: must be 1..256, got -1"}},
      {"[delivery]\nsmtp_port = 0\n", {}, {"delivery.smtp_port: must be 1..65535, got 0"}},
      {"[delivery]\nsmtp_port = 65536\n", {}, {"delivery.smtp_port: must be 1..65535, got 65536"}},
      {"[delivery]\nmax_connections_per_domain = 0\n", {}, {"delivery.max_connections_per_domain: must be 1..10000"}},
      {"[delivery]\nmax_connections_per_domain = 10001\n", {}, {"delivery.max_connections_per_domain: must be 1..10000"}},
      {"[submission]\nmax_recipients = 0\n", {}, {"submission.max_recipients: must be 1..100000, got 0"}},
      {"[submission]\nmax_recipients = 100001\n", {}, {"submission.max_recipients: must be 1..100000"}},
      {"[submission]\nio_threads = 257\n", {}, {"submission.io_threads: must be 0..256, got 257"}},
      {"[submission]\nio_threads = -1\n", {}, {"submission.io_threads: must be 0..256, got -1"}},
      {"[submission]\nmax_connections = 0\n", {}, {"submission.max_connections: must be at least 1, got 0"}},
      {"[submission]\nmax_connections = 4294967296\n", {}, {"submission.max_connections: must be at least 1, got 4294967296"}},
      {"[submission]\nmax_connections_per_client = 0\n", {}, {"submission.max_connections_per_client: must be at least 1"}},
      {"[submission]\nmax_connections = 10\n", {},
       {"submission.max_connections_per_client: must be at most submission.max_connections (10, in $FILE:2), "
        "got 50 (default)"}},
      {"[submission]\nmax_message_size = 1023\n", {},
       {"submission.max_message_size: must be 1024..2147483648 bytes, got 1023"}},
      {"[submission]\nmax_message_size = 2147483649\n", {}, {"submission.max_message_size: must be 1024..2147483648"}},
      {"[submission]\nmax_message_size = -5\n", {}, {"submission.max_message_size: must be 1024..2147483648 bytes, got -5"}},
      {"", {{"TERN_SUBMISSION_MAX_MESSAGE_SIZE", "25MB"}}, {"submission.max_message_size: \"25MB\" is not a size"}},
      {"", {{"TERN_SUBMISSION_MAX_MESSAGE_SIZE", "3GiB"}}, {"must be 1024..2147483648 bytes, got 3221225472"}},
  });
}

TEST_F(ConfigRefusals, DurationRanges) {
  expect_refused({
      {"[submission]\nidle_timeout = \"0s\"\n", {}, {"submission.idle_timeout: must be 1s..1h, got 0s (in $FILE:2)"}},
      {"[submission]\nidle_timeout = \"2h\"\n", {}, {"submission.idle_timeout: must be 1s..1h, got 2h"}},
      {"[delivery]\nconnect_timeout = \"500ms\"\n", {}, {"delivery.connect_timeout: must be 1s..1h, got 500ms"}},
      {"", {{"TERN_DELIVERY_COMMAND_TIMEOUT", "61m"}},
       {"delivery.command_timeout: must be 1s..1h, got 61m (from TERN_DELIVERY_COMMAND_TIMEOUT)"}},
      {"[delivery]\nretry_schedule = []\n", {}, {"delivery.retry_schedule: must not be empty"}},
      {"[delivery]\nretry_schedule = [\"5m\", \"500ms\"]\n", {},
       {"delivery.retry_schedule: item 2: must be at least 1s, got 500ms"}},
      {"[delivery]\nretry_schedule = [\"5m\", \"5x\"]\n", {}, {"delivery.retry_schedule: item 2: \"5x\" is not a duration"}},
      {"[delivery]\nmax_queue_lifetime = \"500ms\"\n", {},
       {"delivery.max_queue_lifetime: must be at least 1s, got 500ms"}},
      {"[delivery]\nmax_queue_lifetime = \"2m\"\n", {},
       {"delivery.max_queue_lifetime: must be at least the first delay of delivery.retry_schedule (5m, default), got 2m "
        "(in $FILE:2)"}},
      {"[dns]\ntimeout = \"50ms\"\n", {}, {"dns.timeout: must be 100ms..1m, got 50ms"}},
      {"[dns]\ntimeout = \"61s\"\n", {}, {"dns.timeout: must be 100ms..1m, got 61s"}},
  });
}

TEST_F(ConfigRefusals, Listeners) {
  expect_refused({
      {"[submission]\nlisten = []\n", {},
       {"submission.listen: no listener: submission.listen and submission.listen_tls are both empty (in $FILE:2)"}},
      {"", {{"TERN_SUBMISSION_LISTEN", ""}}, {"submission.listen: no listener", "(from TERN_SUBMISSION_LISTEN)"}},
      {"[submission]\nlisten = [\"0.0.0.0\"]\n", {}, {"submission.listen: item 1: \"0.0.0.0\" is not a host:port: the port is missing"}},
      {"[submission]\nlisten = [\"0.0.0.0:0\"]\n", {}, {"submission.listen: item 1:", "1..65535"}},
      {"[submission]\nlisten = [\"::1:587\"]\n", {}, {"needs brackets"}},
      {"[submission]\nlisten = [\"0.0.0.0:587\", \"localhost:587\"]\n", {},
       {"submission.listen: item 2: \"localhost:587\": the host must be an IP address"}},
      {"[submission]\nlisten_tls = [\"0.0.0.0:587\"]\n", {},
       {"submission.listen_tls: 0.0.0.0:587 is already used by submission.listen (in $FILE:2)"}},
      {"[submission]\nlisten = [\"127.0.0.1:587\", \"127.0.0.1:587\"]\n", {},
       {"submission.listen: 127.0.0.1:587 is already used by submission.listen"}},
      {"[metrics]\nlisten = \"0.0.0.0:587\"\n", {}, {"metrics.listen: 0.0.0.0:587 is already used by submission.listen"}},
      {"[metrics]\nlisten = \"localhost:9464\"\n", {}, {"metrics.listen: \"localhost:9464\": the host must be an IP address"}},
      {"[metrics]\nlisten = \"127.0.0.1\"\n", {}, {"metrics.listen: \"127.0.0.1\" is not a host:port: the port is missing"}},
      {"[dns]\nservers = [\"dns.google\"]\n", {}, {"dns.servers: item 1: \"dns.google\": the host must be an IP address"}},
      {"[dns]\nservers = [\"127.0.0.1:0\"]\n", {}, {"dns.servers: item 1:", "1..65535"}},
      {"[submission]\ntrusted_networks = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n", {},
       {"submission.trusted_networks: item 2: \"10.0.0.0/33\" is not a CIDR"}},
      {"", {{"TERN_SUBMISSION_TRUSTED_NETWORKS", "172.17.0.1/16"}},
       {"submission.trusted_networks: item 1:", "did you mean 172.17.0.0/16?", "(from TERN_SUBMISSION_TRUSTED_NETWORKS)"}},
  });
}

TEST_F(ConfigRefusals, TlsFiles) {
  write_secrets();
  std::filesystem::create_directory(dir_ + "/adir");
  expect_refused({
      {"[submission]\ntls_cert = \"$DIR/cert.pem\"\n", {},
       {"submission.tls_key: must be set together with submission.tls_cert (in $FILE:2) (default)"}},
      {"", {{"TERN_SUBMISSION_TLS_KEY", "$DIR/key.pem"}},
       {"submission.tls_cert: must be set together with submission.tls_key (from TERN_SUBMISSION_TLS_KEY)"}},
      {"[submission]\ntls_cert = \"$DIR/missing.pem\"\ntls_key = \"$DIR/key.pem\"\n", {},
       {"submission.tls_cert: cannot read \"$DIR/missing.pem\": No such file or directory (in $FILE:2)"}},
      {"[submission]\ntls_cert = \"$DIR/cert.pem\"\ntls_key = \"$DIR/adir\"\n", {},
       {"submission.tls_key: \"$DIR/adir\" is not a regular file (in $FILE:3)"}},
      // Unopenable even for root: a path through a regular file.
      {"[submission]\ntls_cert = \"$DIR/cert.pem/x\"\ntls_key = \"$DIR/key.pem\"\n", {},
       {"submission.tls_cert: cannot read \"$DIR/cert.pem/x\": Not a directory (in $FILE:2)"}},
  });
}

TEST_F(ConfigRefusals, UnreadableFileWhenNotRoot) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  write_secrets();
  std::filesystem::permissions(dir_ + "/key.pem", std::filesystem::perms::none);
  expect_refused({{"[submission]\ntls_cert = \"$DIR/cert.pem\"\ntls_key = \"$DIR/key.pem\"\n", {},
                   {"submission.tls_key: cannot read \"$DIR/key.pem\": Permission denied"}}});
}

TEST_F(ConfigRefusals, Delivery) {
  write_secrets();
  expect_refused({
      {"[delivery]\nmode = \"MX\"\n", {}, {"delivery.mode: must be \"mx\" or \"relayhost\", got \"MX\" (in $FILE:2)"}},
      {"[delivery]\nmode = \"relayhost\"\n", {},
       {"delivery.relayhost: must be set (host:port) when delivery.mode is \"relayhost\" (in $FILE:2) (default)"}},
      {"", {{"TERN_DELIVERY_MODE", "relayhost"}}, {"delivery.relayhost: must be set", "(from TERN_DELIVERY_MODE)"}},
      {"[delivery]\nmode = \"relayhost\"\nrelayhost = \"smtp.example.com\"\n", {},
       {"delivery.relayhost: \"smtp.example.com\" is not a host:port: the port is missing (write host:port) (in $FILE:3)"}},
      {"[delivery]\nrelayhost_tls = \"ssl\"\n", {},
       {"delivery.relayhost_tls: must be \"starttls\", \"tls\" or \"none\", got \"ssl\""}},
      {"[delivery]\ntls = \"yes\"\n", {},
       {"delivery.tls: must be \"opportunistic\", \"required\" or \"verify\", got \"yes\""}},
      {"[delivery]\nrelayhost_user = \"app\"\n", {},
       {"delivery.relayhost_password_file: must be set together with delivery.relayhost_user (in $FILE:2) (default)"}},
      {"", {{"TERN_DELIVERY_RELAYHOST_PASSWORD_FILE", "$DIR/password"}},
       {"delivery.relayhost_user: must be set together with delivery.relayhost_password_file (from "
        "TERN_DELIVERY_RELAYHOST_PASSWORD_FILE)"}},
      {"[delivery]\nrelayhost_user = \"app\"\nrelayhost_password_file = \"$DIR/nope\"\n", {},
       {"delivery.relayhost_password_file: cannot read \"$DIR/nope\": No such file or directory (in $FILE:3)"}},
  });
}

TEST_F(ConfigRefusals, HostnameAndSpool) {
  expect_refused({
      {"hostname = \"\"\n", {}, {"hostname: must not be empty (in $FILE:1)"}},
      {"", {{"TERN_HOSTNAME", "bad_host.example"}},
       {"hostname: \"bad_host.example\" is not a valid domain name", "(from TERN_HOSTNAME)"}},
      {"hostname = \"-x.example\"\n", {}, {"hostname: \"-x.example\" is not a valid domain name"}},
      {"hostname = \"x-.example\"\n", {}, {"is not a valid domain name"}},
      {"hostname = \"a..example\"\n", {}, {"is not a valid domain name"}},
      {"hostname = \"example.com.\"\n", {}, {"is not a valid domain name"}},
      {"hostname = \"relay example.com\"\n", {}, {"is not a valid domain name"}},
      {"hostname = \"" + std::string(64, 'a') + ".example\"\n", {}, {"is not a valid domain name"}},
      {"hostname = \"" + std::string(250, 'a').replace(50, 1, ".").replace(100, 1, ".").replace(150, 1, ".").replace(200, 1, ".") +
           ".com\"\n",
       {}, {"is not a valid domain name"}},
      {"spool = \"\"\n", {}, {"spool: must not be empty (in $FILE:1)"}},
      {"", {{"TERN_SPOOL", "var/spool/tern"}}, {"spool: must be an absolute path, got \"var/spool/tern\" (from TERN_SPOOL)"}},
  });
  for (const char* good : {"relay", "relay.example.com", "a-b.c-d.example", "0.example", "xn--bcher-kva.example"}) {
    Result<Config> c = load_env({{"TERN_HOSTNAME", good}});
    EXPECT_TRUE(c) << good << ": " << c.error().message();
  }
}

TEST_F(ConfigRefusals, ReportsEveryProblemOnePerLine) {
  Result<Config> c = load_toml("[delivery]\nworkers = 0\nsmtp_port = 0\nfrob = 1\n",
                               {{"TERN_DNS_TIMEOUT", "1ms"}, {"TERN_NOPE", "1"}});
  ASSERT_FALSE(c);
  const std::string& m = c.error().message();
  EXPECT_THAT(m, HasSubstr("delivery.workers: must be 1..256, got 0"));
  EXPECT_THAT(m, HasSubstr("delivery.smtp_port: must be 1..65535, got 0"));
  EXPECT_THAT(m, HasSubstr("unknown key delivery.frob"));
  EXPECT_THAT(m, HasSubstr("dns.timeout: must be 100ms..1m, got 1ms (from TERN_DNS_TIMEOUT)"));
  EXPECT_THAT(m, HasSubstr("unknown environment variable TERN_NOPE"));
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 4) << m;

  // Cross-key rules are checked once every value is known, and also all reported.
  Result<Config> d = load_toml("[submission]\nlisten = []\nmax_connections = 1\n[delivery]\nmode = \"relayhost\"\n");
  ASSERT_FALSE(d);
  EXPECT_THAT(d.error().message(), HasSubstr("submission.listen: no listener"));
  EXPECT_THAT(d.error().message(), HasSubstr("submission.max_connections_per_client: must be at most"));
  EXPECT_THAT(d.error().message(), HasSubstr("delivery.relayhost: must be set"));
}

}  // namespace
}  // namespace tern::relay
