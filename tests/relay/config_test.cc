// Loading: defaults, every key from TOML and from env, env over file, lists
// and booleans from env, output (TOML, JSON) and round trips.
#include "relay/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "relay/cli.h"
#include "tests/relay/config_fixture.h"

namespace tern::relay {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::ConfigTest;
using ::testing::HasSubstr;

// INTERFACE.md's example, verbatim: apart from hostname, every value in it
// is the default.
constexpr const char* kInterfaceExample = R"toml(
hostname = "relay.example.com"         # EHLO name and Received: by; default: system hostname
spool    = "/var/spool/tern"           # directory holding queue.db (and nothing else required)

[submission]
listen          = ["0.0.0.0:587"]       # plain + STARTTLS
listen_tls      = []                    # implicit TLS, e.g. ["0.0.0.0:465"]
tls_cert        = ""                    # PEM; empty: a self-signed cert is made at start (warned)
tls_key         = ""
require_auth    = true                  # no relaying without AUTH...
trusted_networks = []                   # ...except from these CIDRs, e.g. ["172.16.0.0/12"]
max_message_size = 26214400             # bytes, advertised in EHLO SIZE
max_recipients   = 100
io_threads       = 0                    # event-loop threads for sessions; 0 = one per core
max_connections  = 1000                 # then 421 4.7.0
max_connections_per_client = 50         # per client address
idle_timeout     = "5m"                # each command line must complete within this (RFC 5321 §4.5.3.2.7);
                                        # a trickle of bytes does not keep a session alive

[delivery]
mode           = "mx"                   # "mx": resolve recipient domains; "relayhost": send all to one upstream
relayhost      = ""                     # "host:port" for mode = "relayhost"
relayhost_tls  = "starttls"             # "starttls" | "tls" (implicit, port 465) | "none"
relayhost_user = ""
relayhost_password_file = ""
tls            = "opportunistic"        # mx mode: "opportunistic" | "required" | "verify"
smtp_port      = 25                     # port used when connecting to MX hosts
workers        = 4                      # delivery threads
max_connections_per_domain = 20
connect_timeout = "30s"                # TCP connect to a delivery host
command_timeout = "5m"                 # wait for any reply (RFC 5321 §4.5.3.2; DATA end waits 2× this)
retry_schedule = ["5m", "10m", "20m", "40m", "1h20m", "2h40m", "4h"]  # last one repeats; any duration >= 1s
max_queue_lifetime = "5d"               # then bounce
bounce         = true                   # send RFC 3464 DSNs to the sender on permanent failure / expiry

[dns]
servers = []                            # e.g. ["127.0.0.1:5353"]; empty: /etc/resolv.conf
timeout = "5s"

[metrics]
listen = "127.0.0.1:9464"               # Prometheus /metrics, plus /healthz and /readyz; "" disables
)toml";

TEST(ConfigDefaults, AreInterfaceMdDefaults) {
  const Config c;
  EXPECT_EQ(c.hostname, system_hostname());
  EXPECT_EQ(c.spool, "/var/spool/tern");
  EXPECT_EQ(c.submission.listen, (std::vector<HostPort>{{"0.0.0.0", 587}}));
  EXPECT_TRUE(c.submission.listen_tls.empty());
  EXPECT_EQ(c.submission.tls_cert, "");
  EXPECT_EQ(c.submission.tls_key, "");
  EXPECT_TRUE(c.submission.require_auth);
  EXPECT_TRUE(c.submission.trusted_networks.empty());
  EXPECT_EQ(c.submission.max_message_size, 26214400u);
  EXPECT_EQ(c.submission.max_recipients, 100u);
  EXPECT_EQ(c.submission.io_threads, 0u);
  EXPECT_EQ(c.submission.max_connections, 1000u);
  EXPECT_EQ(c.submission.max_connections_per_client, 50u);
  EXPECT_EQ(c.submission.idle_timeout, minutes{5});
  EXPECT_EQ(c.delivery.mode, DeliveryMode::Mx);
  EXPECT_FALSE(c.delivery.relayhost);
  EXPECT_EQ(c.delivery.relayhost_tls, RelayhostTls::StartTls);
  EXPECT_EQ(c.delivery.relayhost_user, "");
  EXPECT_EQ(c.delivery.relayhost_password_file, "");
  EXPECT_EQ(c.delivery.tls, MxTls::Opportunistic);
  EXPECT_EQ(c.delivery.smtp_port, 25);
  EXPECT_EQ(c.delivery.workers, 4u);
  EXPECT_EQ(c.delivery.max_connections_per_domain, 20u);
  EXPECT_EQ(c.delivery.connect_timeout, seconds{30});
  EXPECT_EQ(c.delivery.command_timeout, minutes{5});
  EXPECT_EQ(c.delivery.retry_schedule, (std::vector<milliseconds>{minutes{5}, minutes{10}, minutes{20}, minutes{40},
                                                                  minutes{80}, minutes{160}, hours{4}}));
  EXPECT_EQ(c.delivery.max_queue_lifetime, days{5});
  EXPECT_TRUE(c.delivery.bounce);
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_EQ(c.dns.timeout, seconds{5});
  EXPECT_EQ(c.metrics.listen, (HostPort{"127.0.0.1", 9464}));
  EXPECT_EQ(c.source, "defaults");
}

TEST_F(ConfigTest, NoFileNoEnvGivesDefaults) {
  Result<Config> c = load_env({});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(*c, Config{});
  EXPECT_EQ(c->source, "defaults");
}

TEST_F(ConfigTest, InterfaceExampleIsTheDefaults) {
  Result<Config> c = load_toml(kInterfaceExample);
  ASSERT_TRUE(c) << c.error().message();
  Config want;
  want.hostname = "relay.example.com";
  EXPECT_EQ(*c, want);
  EXPECT_EQ(c->source, config_path());
}

TEST_F(ConfigTest, DefaultPathIsUsedWhenItExists) {
  const std::string path = write("default.toml", "[delivery]\nworkers = 9\n");
  Result<Config> c = load_config(std::nullopt, {}, path);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->delivery.workers, 9u);
  EXPECT_EQ(c->source, path);
}

TEST_F(ConfigTest, ExplicitPathMustExist) {
  Result<Config> c = load_config(dir_ + "/nope.toml", {}, absent_default());
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message(), HasSubstr("cannot read config file " + dir_ + "/nope.toml"));
  EXPECT_THAT(c.error().message(), HasSubstr("No such file or directory"));
  Result<Config> d = load_config(dir_, {}, absent_default());  // a directory is not a config file
  ASSERT_FALSE(d);
  EXPECT_THAT(d.error().message(), HasSubstr("cannot read config file " + dir_));
}

// One row per key (or pair of keys that only make sense together): a non-default
// value set through the file and through the environment, and what it must become.
struct KeyCase {
  std::vector<std::string> keys;
  std::string toml;
  Env env;
  std::function<bool(const Config&)> check;
};

std::vector<KeyCase> key_cases() {
  return {
      {{"hostname"}, "hostname = \"relay.example.org\"", {{"TERN_HOSTNAME", "relay.example.org"}},
       [](const Config& c) { return c.hostname == "relay.example.org"; }},
      {{"spool"}, "spool = \"/data/spool\"", {{"TERN_SPOOL", "/data/spool"}},
       [](const Config& c) { return c.spool == "/data/spool"; }},
      {{"submission.listen"}, "[submission]\nlisten = [\"127.0.0.1:2525\", \"[::1]:2525\"]",
       {{"TERN_SUBMISSION_LISTEN", "127.0.0.1:2525, [::1]:2525"}},
       [](const Config& c) {
         return c.submission.listen == std::vector<HostPort>{{"127.0.0.1", 2525}, {"::1", 2525}};
       }},
      {{"submission.listen_tls"}, "[submission]\nlisten_tls = [\"0.0.0.0:465\"]",
       {{"TERN_SUBMISSION_LISTEN_TLS", "0.0.0.0:465"}},
       [](const Config& c) { return c.submission.listen_tls == std::vector<HostPort>{{"0.0.0.0", 465}}; }},
      {{"submission.tls_cert", "submission.tls_key"},
       "[submission]\ntls_cert = \"$DIR/cert.pem\"\ntls_key = \"$DIR/key.pem\"",
       {{"TERN_SUBMISSION_TLS_CERT", "$DIR/cert.pem"}, {"TERN_SUBMISSION_TLS_KEY", "$DIR/key.pem"}},
       [](const Config& c) {
         return c.submission.tls_cert.ends_with("/cert.pem") && c.submission.tls_key.ends_with("/key.pem");
       }},
      {{"submission.require_auth"}, "[submission]\nrequire_auth = false",
       {{"TERN_SUBMISSION_REQUIRE_AUTH", "false"}}, [](const Config& c) { return !c.submission.require_auth; }},
      {{"submission.trusted_networks"}, "[submission]\ntrusted_networks = [\"10.0.0.0/8\", \"fd00::/8\"]",
       {{"TERN_SUBMISSION_TRUSTED_NETWORKS", "10.0.0.0/8,fd00::/8"}},
       [](const Config& c) {
         return c.submission.trusted_networks.size() == 2 && c.submission.trusted_networks[0].str() == "10.0.0.0/8" &&
                c.submission.trusted_networks[1].str() == "fd00::/8";
       }},
      {{"submission.max_message_size"}, "[submission]\nmax_message_size = 10485760",
       {{"TERN_SUBMISSION_MAX_MESSAGE_SIZE", "10MiB"}},
       [](const Config& c) { return c.submission.max_message_size == 10'485'760u; }},
      {{"submission.max_recipients"}, "[submission]\nmax_recipients = 500",
       {{"TERN_SUBMISSION_MAX_RECIPIENTS", "500"}}, [](const Config& c) { return c.submission.max_recipients == 500u; }},
      {{"submission.io_threads"}, "[submission]\nio_threads = 3", {{"TERN_SUBMISSION_IO_THREADS", "3"}},
       [](const Config& c) { return c.submission.io_threads == 3u; }},
      {{"submission.max_connections"}, "[submission]\nmax_connections = 2000",
       {{"TERN_SUBMISSION_MAX_CONNECTIONS", "2000"}},
       [](const Config& c) { return c.submission.max_connections == 2000u; }},
      {{"submission.max_connections_per_client"}, "[submission]\nmax_connections_per_client = 7",
       {{"TERN_SUBMISSION_MAX_CONNECTIONS_PER_CLIENT", "7"}},
       [](const Config& c) { return c.submission.max_connections_per_client == 7u; }},
      {{"submission.idle_timeout"}, "[submission]\nidle_timeout = \"90s\"", {{"TERN_SUBMISSION_IDLE_TIMEOUT", "90s"}},
       [](const Config& c) { return c.submission.idle_timeout == seconds{90}; }},
      {{"delivery.mode", "delivery.relayhost"},
       "[delivery]\nmode = \"relayhost\"\nrelayhost = \"smtp.example.com:587\"",
       {{"TERN_DELIVERY_MODE", "relayhost"}, {"TERN_DELIVERY_RELAYHOST", "smtp.example.com:587"}},
       [](const Config& c) {
         return c.delivery.mode == DeliveryMode::Relayhost &&
                c.delivery.relayhost == HostPort{"smtp.example.com", 587};
       }},
      {{"delivery.relayhost_tls"}, "[delivery]\nrelayhost_tls = \"tls\"", {{"TERN_DELIVERY_RELAYHOST_TLS", "tls"}},
       [](const Config& c) { return c.delivery.relayhost_tls == RelayhostTls::Tls; }},
      {{"delivery.relayhost_user", "delivery.relayhost_password_file"},
       "[delivery]\nrelayhost_user = \"app\"\nrelayhost_password_file = \"$DIR/password\"",
       {{"TERN_DELIVERY_RELAYHOST_USER", "app"}, {"TERN_DELIVERY_RELAYHOST_PASSWORD_FILE", "$DIR/password"}},
       [](const Config& c) {
         return c.delivery.relayhost_user == "app" && c.delivery.relayhost_password_file.ends_with("/password");
       }},
      {{"delivery.tls"}, "[delivery]\ntls = \"verify\"", {{"TERN_DELIVERY_TLS", "verify"}},
       [](const Config& c) { return c.delivery.tls == MxTls::Verify; }},
      {{"delivery.smtp_port"}, "[delivery]\nsmtp_port = 2525", {{"TERN_DELIVERY_SMTP_PORT", "2525"}},
       [](const Config& c) { return c.delivery.smtp_port == 2525; }},
      {{"delivery.workers"}, "[delivery]\nworkers = 8", {{"TERN_DELIVERY_WORKERS", "8"}},
       [](const Config& c) { return c.delivery.workers == 8u; }},
      {{"delivery.max_connections_per_domain"}, "[delivery]\nmax_connections_per_domain = 3",
       {{"TERN_DELIVERY_MAX_CONNECTIONS_PER_DOMAIN", "3"}},
       [](const Config& c) { return c.delivery.max_connections_per_domain == 3u; }},
      {{"delivery.connect_timeout"}, "[delivery]\nconnect_timeout = \"10s\"",
       {{"TERN_DELIVERY_CONNECT_TIMEOUT", "10s"}},
       [](const Config& c) { return c.delivery.connect_timeout == seconds{10}; }},
      {{"delivery.command_timeout"}, "[delivery]\ncommand_timeout = \"2m\"", {{"TERN_DELIVERY_COMMAND_TIMEOUT", "2m"}},
       [](const Config& c) { return c.delivery.command_timeout == minutes{2}; }},
      {{"delivery.retry_schedule"}, "[delivery]\nretry_schedule = [\"1m\", \"1h30m\"]",
       {{"TERN_DELIVERY_RETRY_SCHEDULE", "1m, 1h30m"}},
       [](const Config& c) { return c.delivery.retry_schedule == std::vector<milliseconds>{minutes{1}, minutes{90}}; }},
      {{"delivery.max_queue_lifetime"}, "[delivery]\nmax_queue_lifetime = \"3d\"",
       {{"TERN_DELIVERY_MAX_QUEUE_LIFETIME", "3d"}},
       [](const Config& c) { return c.delivery.max_queue_lifetime == days{3}; }},
      {{"delivery.bounce"}, "[delivery]\nbounce = false", {{"TERN_DELIVERY_BOUNCE", "no"}},
       [](const Config& c) { return !c.delivery.bounce; }},
      {{"dns.servers"}, "[dns]\nservers = [\"127.0.0.1:5353\", \"[::1]\"]",
       {{"TERN_DNS_SERVERS", "127.0.0.1:5353,[::1]"}},
       [](const Config& c) { return c.dns.servers == std::vector<HostPort>{{"127.0.0.1", 5353}, {"::1", 53}}; }},
      {{"dns.timeout"}, "[dns]\ntimeout = \"2s500ms\"", {{"TERN_DNS_TIMEOUT", "2s500ms"}},
       [](const Config& c) { return c.dns.timeout == milliseconds{2500}; }},
      {{"metrics.listen"}, "[metrics]\nlisten = \"[::1]:19464\"", {{"TERN_METRICS_LISTEN", "[::1]:19464"}},
       [](const Config& c) { return c.metrics.listen == HostPort{"::1", 19464}; }},
  };
}

TEST_F(ConfigTest, EveryKeyFromToml) {
  write_secrets();
  for (const KeyCase& k : key_cases()) {
    Result<Config> c = load_toml(k.toml);
    ASSERT_TRUE(c) << k.toml << "\n-> " << c.error().message();
    EXPECT_TRUE(k.check(*c)) << k.toml << "\n-> " << to_toml(*c);
    EXPECT_NE(*c, Config{}) << k.toml;
  }
}

TEST_F(ConfigTest, EveryKeyFromEnv) {
  write_secrets();
  for (const KeyCase& k : key_cases()) {
    Result<Config> c = load_env(k.env);
    ASSERT_TRUE(c) << k.env.begin()->first << " -> " << c.error().message();
    EXPECT_TRUE(k.check(*c)) << k.env.begin()->first << "\n-> " << to_toml(*c);
    EXPECT_THAT(c->source, HasSubstr("defaults + env " + k.env.begin()->first));
  }
}

TEST_F(ConfigTest, KeyCasesCoverEveryKey) {
  std::set<std::string> covered;
  for (const KeyCase& k : key_cases()) covered.insert(k.keys.begin(), k.keys.end());
  std::set<std::string> all;
  const nlohmann::json defaults = to_json(Config{});
  for (const auto& [key, value] : defaults.items()) {
    if (value.is_object()) {
      for (const auto& [sub, ignored] : value.items()) all.insert(key + "." + sub);
    } else {
      all.insert(key);
    }
  }
  EXPECT_EQ(covered, all);
  EXPECT_EQ(all.size(), 31u);  // INTERFACE.md's Configuration section
}

TEST_F(ConfigTest, EnvWinsOverFile) {
  Result<Config> c = load_toml("[delivery]\nworkers = 8\nbounce = false\n", {{"TERN_DELIVERY_WORKERS", "16"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->delivery.workers, 16u);
  EXPECT_FALSE(c->delivery.bounce);  // from the file, untouched by env
  EXPECT_EQ(c->source, config_path() + " + env TERN_DELIVERY_WORKERS");
}

TEST_F(ConfigTest, ListsFromEnv) {
  struct Case {
    std::string value;
    std::vector<std::string> want;  // str() of each trusted network
  };
  const Case cases[] = {
      {"", {}},
      {"   ", {}},
      {"10.0.0.0/8", {"10.0.0.0/8"}},
      {"10.0.0.0/8,172.16.0.0/12", {"10.0.0.0/8", "172.16.0.0/12"}},
      {" 10.0.0.0/8 ,\t172.16.0.0/12 ", {"10.0.0.0/8", "172.16.0.0/12"}},
      {"::1, 127.0.0.1", {"::1/128", "127.0.0.1/32"}},
  };
  for (const Case& c : cases) {
    Result<Config> got = load_env({{"TERN_SUBMISSION_TRUSTED_NETWORKS", c.value}});
    ASSERT_TRUE(got) << "\"" << c.value << "\": " << got.error().message();
    std::vector<std::string> strs;
    for (const Cidr& net : got->submission.trusted_networks) strs.push_back(net.str());
    EXPECT_EQ(strs, c.want) << "\"" << c.value << "\"";
  }
  // An empty list where one is required, and an empty item, are errors.
  Result<Config> none = load_env({{"TERN_DELIVERY_RETRY_SCHEDULE", ""}});
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message(), HasSubstr("delivery.retry_schedule: must not be empty"));
  Result<Config> hole = load_env({{"TERN_SUBMISSION_TRUSTED_NETWORKS", "10.0.0.0/8,,fd00::/8"}});
  ASSERT_FALSE(hole);
  EXPECT_THAT(hole.error().message(), HasSubstr("submission.trusted_networks: item 2:"));
  // Env "" unsets the optional host:port keys.
  Result<Config> off = load_env({{"TERN_METRICS_LISTEN", ""}, {"TERN_DELIVERY_RELAYHOST", ""}});
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_FALSE(off->metrics.listen);
  EXPECT_FALSE(off->delivery.relayhost);
}

TEST_F(ConfigTest, BooleansFromEnv) {
  const std::pair<std::string, bool> cases[] = {
      {"true", true}, {"TRUE", true}, {"True", true}, {"1", true},  {"yes", true},  {"YES", true}, {" yes ", true},
      {"false", false}, {"False", false}, {"0", false}, {"no", false}, {"No", false},
  };
  for (const auto& [text, want] : cases) {
    Result<Config> c = load_env({{"TERN_SUBMISSION_REQUIRE_AUTH", text}});
    ASSERT_TRUE(c) << text << ": " << c.error().message();
    EXPECT_EQ(c->submission.require_auth, want) << text;
  }
  for (const char* bad : {"", "on", "off", "2", "y", "truee"}) {
    Result<Config> c = load_env({{"TERN_SUBMISSION_REQUIRE_AUTH", bad}});
    ASSERT_FALSE(c) << "accepted \"" << bad << "\"";
    EXPECT_THAT(c.error().message(), HasSubstr("submission.require_auth: expected true/false, 1/0 or yes/no"));
    EXPECT_THAT(c.error().message(), HasSubstr("(from TERN_SUBMISSION_REQUIRE_AUTH)"));
  }
}

TEST_F(ConfigTest, SizesAcceptBinarySuffixes) {
  Result<Config> file = load_toml("[submission]\nmax_message_size = \"25MiB\"\n");
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(file->submission.max_message_size, 26'214'400u);
  Result<Config> env = load_env({{"TERN_SUBMISSION_MAX_MESSAGE_SIZE", "2GiB"}});
  ASSERT_TRUE(env) << env.error().message();
  EXPECT_EQ(env->submission.max_message_size, 2'147'483'648u);
}

TEST_F(ConfigTest, MetricsCanBeDisabled) {
  Result<Config> c = load_toml("[metrics]\nlisten = \"\"\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE(c->metrics.listen);
  EXPECT_THAT(to_toml(*c), HasSubstr("listen = \"\"\n"));
  EXPECT_EQ(to_json(*c)["metrics"]["listen"], "");
}

// A config far from the defaults, every key changed, to round-trip.
constexpr const char* kEverythingChanged = R"toml(
hostname = "mx-out.example.net"
spool = "$DIR/spool with \"quotes\" and \\ backslash é"
[submission]
listen = ["127.0.0.1:2525", "[::1]:2525"]
listen_tls = ["127.0.0.1:4650"]
tls_cert = "$DIR/cert.pem"
tls_key = "$DIR/key.pem"
require_auth = false
trusted_networks = ["10.0.0.0/8", "::ffff:10.0.0.0/104", "2001:db8::/32"]
max_message_size = "10MiB"
max_recipients = 1000
io_threads = 2
max_connections = 300
max_connections_per_client = 300
idle_timeout = "1m30s"
[delivery]
mode = "relayhost"
relayhost = "[2001:db8::25]:587"
relayhost_tls = "none"
relayhost_user = "app \"one\""
relayhost_password_file = "$DIR/password"
tls = "required"
smtp_port = 2525
workers = 256
max_connections_per_domain = 10000
connect_timeout = "1h"
command_timeout = "1s"
retry_schedule = ["1s", "1d1h1m1s1ms", "36h"]
max_queue_lifetime = "1m0s500ms"
bounce = false
[dns]
servers = ["127.0.0.1:5353", "[::1]"]
timeout = "100ms"
[metrics]
listen = ""
)toml";

TEST_F(ConfigTest, RoundTripsThroughToml) {
  write_secrets();
  Result<Config> first = load_toml(kEverythingChanged);
  ASSERT_TRUE(first) << first.error().message();
  for (const Config& original : {Config{}, *first}) {
    const std::string toml = to_toml(original);
    Result<Config> again = load_config(write("again.toml", toml), {}, absent_default());
    ASSERT_TRUE(again) << toml << "\n-> " << again.error().message();
    EXPECT_EQ(*again, original) << toml << "\nreloaded as\n" << to_toml(*again);
    EXPECT_EQ(to_toml(*again).substr(to_toml(*again).find('\n')), toml.substr(toml.find('\n')));
  }
  EXPECT_EQ(first->delivery.retry_schedule[1], days{1} + hours{1} + minutes{1} + seconds{1} + milliseconds{1});
  EXPECT_THAT(to_toml(*first), HasSubstr("retry_schedule             = [\"1s\", \"1d1h1m1s1ms\", \"1d12h\"]"));
}

TEST_F(ConfigTest, JsonHasTheSameKeysAndValues) {
  write_secrets();
  Result<Config> c = load_toml(kEverythingChanged);
  ASSERT_TRUE(c) << c.error().message();
  const nlohmann::json j = to_json(*c);
  EXPECT_EQ(j["hostname"], "mx-out.example.net");
  EXPECT_EQ(j["submission"]["listen"], nlohmann::json::array({"127.0.0.1:2525", "[::1]:2525"}));
  EXPECT_EQ(j["submission"]["require_auth"], false);
  EXPECT_EQ(j["submission"]["max_message_size"], 10'485'760);
  EXPECT_EQ(j["submission"]["idle_timeout"], "1m30s");
  EXPECT_EQ(j["delivery"]["mode"], "relayhost");
  EXPECT_EQ(j["delivery"]["relayhost"], "[2001:db8::25]:587");
  EXPECT_EQ(j["delivery"]["relayhost_user"], "app \"one\"");
  EXPECT_EQ(j["delivery"]["retry_schedule"], nlohmann::json::array({"1s", "1d1h1m1s1ms", "1d12h"}));
  EXPECT_EQ(j["delivery"]["max_queue_lifetime"], "1m500ms");
  EXPECT_EQ(j["dns"]["servers"], nlohmann::json::array({"127.0.0.1:5353", "[::1]:53"}));
  EXPECT_EQ(j["metrics"]["listen"], "");
  EXPECT_EQ(j.size(), 6u);  // hostname, spool and the four sections
  // The JSON text parses back to the same document (UTF-8 and escapes intact).
  EXPECT_EQ(nlohmann::json::parse(j.dump()), j);
}

TEST_F(ConfigTest, EnvStringsMustBeUtf8) {
  Result<Config> c = load_env({{"TERN_DELIVERY_RELAYHOST_USER", "bad\xff"}});
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message(), HasSubstr("delivery.relayhost_user: the value is not valid UTF-8"));
}

TEST(ConfigEnvironment, CollectsOnlyTernVariables) {
  ASSERT_EQ(::setenv("TERN_PROBE_FOR_TEST", "a=b", 1), 0);
  ASSERT_EQ(::setenv("TERNTEST_PROBE_FOR_TEST", "x", 1), 0);
  const Env env = tern_environment();
  ::unsetenv("TERN_PROBE_FOR_TEST");
  ::unsetenv("TERNTEST_PROBE_FOR_TEST");
  ASSERT_EQ(env.count("TERN_PROBE_FOR_TEST"), 1u);
  EXPECT_EQ(env.at("TERN_PROBE_FOR_TEST"), "a=b");
  EXPECT_EQ(env.count("TERNTEST_PROBE_FOR_TEST"), 0u);
  for (const auto& [name, value] : env) EXPECT_EQ(name.rfind("TERN_", 0), 0u) << name;
}

TEST_F(ConfigTest, LoadConfigForReadsTheCommandLinePath) {
  if (!tern_environment().empty()) GTEST_SKIP() << "the runner's environment sets TERN_* variables";
  CommonOptions common;
  common.config_path = write("cli.toml", "[delivery]\nworkers = 5\n");
  Result<Config> c = load_config_for(common);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->delivery.workers, 5u);
  EXPECT_EQ(c->source, *common.config_path);
  common.config_path = dir_ + "/missing.toml";
  EXPECT_FALSE(load_config_for(common));
}

TEST(ConfigThreads, EffectiveIoThreads) {
  Config c;
  c.submission.io_threads = 3;
  EXPECT_EQ(effective_io_threads(c), 3);
  c.submission.io_threads = 0;
  const unsigned cores = std::thread::hardware_concurrency();
  EXPECT_EQ(effective_io_threads(c), cores == 0 ? 1 : static_cast<int>(cores));
  EXPECT_GE(effective_io_threads(c), 1);
}

TEST(ConfigReload, KeysNeedingRestart) {
  const Config running;
  Config reloaded = running;
  EXPECT_TRUE(keys_needing_restart(running, reloaded).empty());
  reloaded.delivery.retry_schedule = {std::chrono::minutes{1}};
  reloaded.submission.max_recipients = 5;
  reloaded.submission.trusted_networks = {*Cidr::parse("10.0.0.0/8")};
  EXPECT_TRUE(keys_needing_restart(running, reloaded).empty()) << "these apply on SIGHUP";
  reloaded.spool = "/elsewhere";
  reloaded.submission.listen_tls = {HostPort{"0.0.0.0", 465}};
  reloaded.submission.io_threads = 2;
  reloaded.delivery.workers = 8;
  reloaded.metrics.listen.reset();
  EXPECT_EQ(keys_needing_restart(running, reloaded),
            (std::vector<std::string>{"spool", "submission.listen_tls", "submission.io_threads", "delivery.workers",
                                      "metrics.listen"}));
}

}  // namespace
}  // namespace tern::relay
