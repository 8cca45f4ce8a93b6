#include "relay/config_keys.h"

#include <limits>
#include <utility>

#include "relay/config_key_codecs.h"

namespace tern::relay {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string env_name(std::string_view dotted) {
  std::string out = "TERN_";
  for (char c : dotted) {
    if (c == '.') {
      out += '_';
    } else if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else {
      out += c;
    }
  }
  return out;
}

enum class Reload { Live, NeedsRestart };

// field: a generic lambda returning a reference to the member, for both
// Config& and const Config&.
template <class Field, class Codec>
ConfigKey make_key(std::string_view dotted, Field field, Codec codec, Reload reload = Reload::Live) {
  ConfigKey key;
  const std::size_t dot = dotted.find('.');
  key.section = dot == std::string_view::npos ? "" : std::string(dotted.substr(0, dot));
  key.name = std::string(dot == std::string_view::npos ? dotted : dotted.substr(dot + 1));
  key.dotted = std::string(dotted);
  key.env = env_name(dotted);
  key.needs_restart = reload == Reload::NeedsRestart;
  key.set_from_file = [field, codec](Config& c, const ConfigValue& v) -> Status {
    auto parsed = codec.from_file(v);
    if (!parsed) return parsed.error();
    field(c) = std::move(*parsed);
    return {};
  };
  key.set_from_env = [field, codec](Config& c, std::string_view s) -> Status {
    auto parsed = codec.from_env(s);
    if (!parsed) return parsed.error();
    field(c) = std::move(*parsed);
    return {};
  };
  key.get = [field, codec](const Config& c) { return codec.to_value(field(c)); };
  return key;
}

template <class T>
codec::Integer<T> integer(std::int64_t min, std::optional<std::int64_t> max = std::nullopt) {
  return codec::Integer<T>{min, max};
}

codec::Duration duration(milliseconds min, std::optional<milliseconds> max = std::nullopt) {
  return codec::Duration{min, max};
}

const codec::HostPortText kListener{true, std::nullopt, "a listener binds an address, not a name"};

std::vector<ConfigKey> build_keys() {
  constexpr std::uint64_t kKiB = 1024;
  constexpr std::uint64_t kGiB = 1024 * 1024 * 1024;
  const codec::Enum<DeliveryMode> mode{{{"mx", DeliveryMode::Mx}, {"relayhost", DeliveryMode::Relayhost}}};
  const codec::Enum<RelayhostTls> relayhost_tls{
      {{"starttls", RelayhostTls::StartTls}, {"tls", RelayhostTls::Tls}, {"none", RelayhostTls::None}}};
  const codec::Enum<MxTls> mx_tls{
      {{"opportunistic", MxTls::Opportunistic}, {"required", MxTls::Required}, {"verify", MxTls::Verify}}};
  const auto restart = Reload::NeedsRestart;

  // The ranges a key has on its own are here; rules across keys (a listener
  // at least, cert with key, relayhost for mode = relayhost, files readable,
  // per-client <= total) are in config_validate.cc.
  return {
      make_key("hostname", [](auto& c) -> auto& { return c.hostname; }, codec::String{}),
      make_key("spool", [](auto& c) -> auto& { return c.spool; }, codec::String{}, restart),

      make_key("submission.listen", [](auto& c) -> auto& { return c.submission.listen; },
               codec::List<codec::HostPortText>{kListener}, restart),
      make_key("submission.listen_tls", [](auto& c) -> auto& { return c.submission.listen_tls; },
               codec::List<codec::HostPortText>{kListener}, restart),
      make_key("submission.tls_cert", [](auto& c) -> auto& { return c.submission.tls_cert; }, codec::String{}),
      make_key("submission.tls_key", [](auto& c) -> auto& { return c.submission.tls_key; }, codec::String{}),
      make_key("submission.require_auth", [](auto& c) -> auto& { return c.submission.require_auth; },
               codec::Bool{}),
      make_key("submission.trusted_networks", [](auto& c) -> auto& { return c.submission.trusted_networks; },
               codec::List<codec::CidrText>{}),
      make_key("submission.max_message_size", [](auto& c) -> auto& { return c.submission.max_message_size; },
               codec::Size{kKiB, 2 * kGiB}),
      make_key("submission.max_recipients", [](auto& c) -> auto& { return c.submission.max_recipients; },
               integer<std::uint32_t>(1, 100'000)),
      make_key("submission.io_threads", [](auto& c) -> auto& { return c.submission.io_threads; },
               integer<std::uint32_t>(0, 256), restart),
      make_key("submission.max_connections", [](auto& c) -> auto& { return c.submission.max_connections; },
               integer<std::uint32_t>(1)),
      make_key("submission.max_connections_per_client",
               [](auto& c) -> auto& { return c.submission.max_connections_per_client; },
               integer<std::uint32_t>(1)),
      make_key("submission.idle_timeout", [](auto& c) -> auto& { return c.submission.idle_timeout; },
               duration(seconds{1}, hours{1})),

      make_key("delivery.mode", [](auto& c) -> auto& { return c.delivery.mode; }, mode),
      make_key("delivery.relayhost", [](auto& c) -> auto& { return c.delivery.relayhost; },
               codec::OptionalHostPort{{false, std::nullopt, ""}}),
      make_key("delivery.relayhost_tls", [](auto& c) -> auto& { return c.delivery.relayhost_tls; },
               relayhost_tls),
      make_key("delivery.relayhost_user", [](auto& c) -> auto& { return c.delivery.relayhost_user; },
               codec::String{}),
      make_key("delivery.relayhost_password_file",
               [](auto& c) -> auto& { return c.delivery.relayhost_password_file; }, codec::String{}),
      make_key("delivery.tls", [](auto& c) -> auto& { return c.delivery.tls; }, mx_tls),
      make_key("delivery.smtp_port", [](auto& c) -> auto& { return c.delivery.smtp_port; },
               integer<std::uint16_t>(1, 65535)),
      make_key("delivery.workers", [](auto& c) -> auto& { return c.delivery.workers; },
               integer<std::uint32_t>(1, 256), restart),
      make_key("delivery.max_connections_per_domain",
               [](auto& c) -> auto& { return c.delivery.max_connections_per_domain; },
               integer<std::uint32_t>(1, 10'000)),
      make_key("delivery.connect_timeout", [](auto& c) -> auto& { return c.delivery.connect_timeout; },
               duration(seconds{1}, hours{1})),
      make_key("delivery.command_timeout", [](auto& c) -> auto& { return c.delivery.command_timeout; },
               duration(seconds{1}, hours{1})),
      make_key("delivery.retry_schedule", [](auto& c) -> auto& { return c.delivery.retry_schedule; },
               codec::List<codec::Duration>{duration(seconds{1})}),
      // Floor 1s like retry_schedule's items, so tests can watch mail expire;
      // config_validate.cc also wants it >= the first retry delay.
      make_key("delivery.max_queue_lifetime", [](auto& c) -> auto& { return c.delivery.max_queue_lifetime; },
               duration(seconds{1})),
      make_key("delivery.bounce", [](auto& c) -> auto& { return c.delivery.bounce; }, codec::Bool{}),

      make_key("dns.servers", [](auto& c) -> auto& { return c.dns.servers; },
               codec::List<codec::HostPortText>{{true, 53, "c-ares needs resolver addresses"}}),
      make_key("dns.timeout", [](auto& c) -> auto& { return c.dns.timeout; },
               duration(milliseconds{100}, seconds{60})),

      make_key("metrics.listen", [](auto& c) -> auto& { return c.metrics.listen; },
               codec::OptionalHostPort{kListener}, restart),
  };
}

}  // namespace

std::string_view describe(ConfigValue::Type type) {
  switch (type) {
    case ConfigValue::Type::String: return "a string";
    case ConfigValue::Type::Integer: return "an integer";
    case ConfigValue::Type::Float: return "a float";
    case ConfigValue::Type::Boolean: return "a boolean";
    case ConfigValue::Type::Array: return "an array";
    case ConfigValue::Type::Table: return "a table";
    case ConfigValue::Type::Date: return "a date";
    case ConfigValue::Type::Time: return "a time";
    case ConfigValue::Type::DateTime: return "a date-time";
  }
  return "a value";
}

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = build_keys();
  return keys;
}

const std::vector<std::string>& config_sections() {
  static const std::vector<std::string> sections = [] {
    std::vector<std::string> out;
    for (const ConfigKey& key : config_keys()) {
      if (!key.section.empty() && (out.empty() || out.back() != key.section)) out.push_back(key.section);
    }
    return out;
  }();
  return sections;
}

const ConfigKey* find_key(std::string_view section, std::string_view name) {
  for (const ConfigKey& key : config_keys()) {
    if (key.section == section && key.name == name) return &key;
  }
  return nullptr;
}

const ConfigKey* find_key_by_env(std::string_view env_name) {
  for (const ConfigKey& key : config_keys()) {
    if (key.env == env_name) return &key;
  }
  return nullptr;
}

}  // namespace tern::relay
