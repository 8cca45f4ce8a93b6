#include "relay/config_key_codecs.h"

#include <charconv>

#include "relay/duration.h"
#include "relay/size.h"

namespace tern::relay::codec {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// RFC 3629: env strings end up in TOML and JSON output, which must be UTF-8.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> out;
  if (trim(s).empty()) return out;
  while (true) {
    const std::size_t comma = s.find(',');
    out.push_back(trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

Error expected(std::string_view what, const ConfigValue& got) {
  return Error::permanent("expected " + std::string(what) + ", got " + std::string(describe(got.type)));
}

ConfigValue string_value(std::string s) {
  ConfigValue v;
  v.type = ConfigValue::Type::String;
  v.string = std::move(s);
  return v;
}

Result<std::string> String::from_file(const ConfigValue& v) const {
  if (v.type != ConfigValue::Type::String) return expected("a string", v);
  return v.string;
}

Result<std::string> String::from_env(std::string_view s) const {
  if (!valid_utf8(s)) return Error::permanent("the value is not valid UTF-8");
  return std::string(s);
}

Result<bool> Bool::from_file(const ConfigValue& v) const {
  if (v.type != ConfigValue::Type::Boolean) return expected("a boolean (true or false)", v);
  return v.boolean;
}

Result<bool> Bool::from_env(std::string_view s) const {
  const std::string word = lower(trim(s));
  if (word == "true" || word == "1" || word == "yes") return true;
  if (word == "false" || word == "0" || word == "no") return false;
  return Error::permanent("expected true/false, 1/0 or yes/no, got \"" + std::string(s) + "\"");
}

ConfigValue Bool::to_value(bool b) const {
  ConfigValue v;
  v.type = ConfigValue::Type::Boolean;
  v.boolean = b;
  return v;
}

Result<std::int64_t> parse_integer(std::string_view s) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
    return Error::permanent("expected a decimal integer, got \"" + std::string(s) + "\"");
  }
  if (ec == std::errc::result_out_of_range) return Error::permanent("\"" + std::string(s) + "\" is too large");
  return n;
}

Error out_of_range(std::int64_t min, std::optional<std::int64_t> max, std::int64_t got) {
  const std::string range = max ? std::to_string(min) + ".." + std::to_string(*max) : "at least " + std::to_string(min);
  return Error::permanent("must be " + range + ", got " + std::to_string(got));
}

Result<std::uint64_t> Size::from_file(const ConfigValue& v) const {
  if (v.type == ConfigValue::Type::Integer) {
    if (v.integer < 0) {
      return Error::permanent("must be " + std::to_string(min) + ".." + std::to_string(max) + " bytes, got " +
                              std::to_string(v.integer));
    }
    return check(static_cast<std::uint64_t>(v.integer));
  }
  if (v.type != ConfigValue::Type::String) return expected("an integer (bytes) or a string such as \"25MiB\"", v);
  Result<std::uint64_t> n = parse_size(v.string);
  if (!n) return n.error();
  return check(*n);
}

Result<std::uint64_t> Size::from_env(std::string_view s) const {
  Result<std::uint64_t> n = parse_size(trim(s));
  if (!n) return n.error();
  return check(*n);
}

Result<std::uint64_t> Size::check(std::uint64_t n) const {
  if (n < min || n > max) {
    return Error::permanent("must be " + std::to_string(min) + ".." + std::to_string(max) + " bytes, got " +
                            std::to_string(n));
  }
  return n;
}

ConfigValue Size::to_value(std::uint64_t n) const {
  ConfigValue v;
  v.type = ConfigValue::Type::Integer;
  v.integer = static_cast<std::int64_t>(n);  // at most max, which fits
  return v;
}

Result<std::chrono::milliseconds> Duration::from_text(std::string_view s) const {
  Result<std::chrono::milliseconds> d = parse_duration(s);
  if (!d) return d.error();
  if (*d < min || (max && *d > *max)) {
    const std::string range = max ? format_duration(min) + ".." + format_duration(*max) : "at least " + format_duration(min);
    return Error::permanent("must be " + range + ", got " + std::string(s));
  }
  return *d;
}

Result<std::chrono::milliseconds> Duration::from_file(const ConfigValue& v) const {
  if (v.type != ConfigValue::Type::String) return expected("a duration string such as \"30s\" or \"5m\"", v);
  return from_text(v.string);
}

ConfigValue Duration::to_value(std::chrono::milliseconds d) const { return string_value(format_duration(d)); }

std::string Duration::to_text(std::chrono::milliseconds d) const { return format_duration(d); }

Result<HostPort> HostPortText::from_text(std::string_view s) const {
  Result<HostPort> hp = parse_host_port(s, default_port);
  if (!hp) return hp.error();
  if (ip_only && !hp->is_ip_address()) {
    return Error::permanent("\"" + std::string(s) + "\": the host must be an IP address (" + std::string(why_ip) +
                            ")");
  }
  return hp;
}

Result<std::optional<HostPort>> OptionalHostPort::from_text(std::string_view s) const {
  if (s.empty()) return std::optional<HostPort>();
  Result<HostPort> hp = item.from_text(s);
  if (!hp) return hp.error();
  return std::optional<HostPort>(std::move(*hp));
}

Result<std::optional<HostPort>> OptionalHostPort::from_file(const ConfigValue& v) const {
  if (v.type != ConfigValue::Type::String) return expected("a string \"host:port\" (or \"\")", v);
  return from_text(v.string);
}

}  // namespace tern::relay::codec
