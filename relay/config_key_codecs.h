#pragma once
// Codecs for config values: each turns a TOML value or a TERN_* string into
// one C++ type, checking type, syntax and the key's own range, and turns it
// back into a ConfigValue for output. Internal to config_keys.cc. Errors are
// the problem alone ("expected an integer, got a string"); nothing throws.
// Env strings: scalars other than strings are trimmed of blanks; lists are
// comma-separated with blanks around items trimmed, "" being the empty list.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "relay/cidr.h"
#include "relay/config_keys.h"
#include "relay/host_port.h"
#include "smtp/result.h"

namespace tern::relay::codec {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split_list(std::string_view s);  // "" -> {}
Error expected(std::string_view what, const ConfigValue& got);  // "expected an integer, got a string"
ConfigValue string_value(std::string s);

struct String {
  Result<std::string> from_file(const ConfigValue& v) const;
  Result<std::string> from_env(std::string_view s) const;  // verbatim, but valid UTF-8
  ConfigValue to_value(const std::string& s) const { return string_value(s); }
};

struct Bool {
  Result<bool> from_file(const ConfigValue& v) const;
  Result<bool> from_env(std::string_view s) const;  // true/false/1/0/yes/no, any case
  ConfigValue to_value(bool b) const;
};

// Integers in [min, max]; max unset: up to the type's maximum, "at least min".
template <class T>
struct Integer {
  std::int64_t min;
  std::optional<std::int64_t> max;
  Result<T> from_file(const ConfigValue& v) const {
    if (v.type != ConfigValue::Type::Integer) return expected("an integer", v);
    return check(v.integer);
  }
  Result<T> from_env(std::string_view s) const;
  ConfigValue to_value(T n) const {
    ConfigValue v;
    v.type = ConfigValue::Type::Integer;
    v.integer = static_cast<std::int64_t>(n);
    return v;
  }
  Result<T> check(std::int64_t n) const;
};
Result<std::int64_t> parse_integer(std::string_view s);
Error out_of_range(std::int64_t min, std::optional<std::int64_t> max, std::int64_t got);

template <class T>
Result<T> Integer<T>::from_env(std::string_view s) const {
  Result<std::int64_t> n = parse_integer(trim(s));
  if (!n) return n.error();
  return check(*n);
}

template <class T>
Result<T> Integer<T>::check(std::int64_t n) const {
  const auto type_max = static_cast<std::int64_t>(std::numeric_limits<T>::max());
  if (n < min || n > max.value_or(type_max)) return out_of_range(min, max, n);
  return static_cast<T>(n);
}

// Bytes: an integer, or a string parse_size() accepts ("25MiB").
struct Size {
  std::uint64_t min;
  std::uint64_t max;
  Result<std::uint64_t> from_file(const ConfigValue& v) const;
  Result<std::uint64_t> from_env(std::string_view s) const;
  ConfigValue to_value(std::uint64_t n) const;
  Result<std::uint64_t> check(std::uint64_t n) const;
};

// Durations as strings ("5m"), within [min, max]; max nullopt = no upper bound.
struct Duration {
  std::chrono::milliseconds min;
  std::optional<std::chrono::milliseconds> max;
  Result<std::chrono::milliseconds> from_text(std::string_view s) const;
  Result<std::chrono::milliseconds> from_file(const ConfigValue& v) const;
  Result<std::chrono::milliseconds> from_env(std::string_view s) const { return from_text(trim(s)); }
  ConfigValue to_value(std::chrono::milliseconds d) const;
  std::string to_text(std::chrono::milliseconds d) const;
};

// host:port; ip_only for what is bound or given to c-ares, not resolved.
struct HostPortText {
  bool ip_only;
  std::optional<std::uint16_t> default_port;
  std::string_view why_ip;  // "a listener binds an address"
  Result<HostPort> from_text(std::string_view s) const;
  std::string to_text(const HostPort& hp) const { return hp.str(); }
};

struct CidrText {
  Result<Cidr> from_text(std::string_view s) const { return Cidr::parse(s); }
  std::string to_text(const Cidr& c) const { return c.str(); }
};

// "" means unset.
struct OptionalHostPort {
  HostPortText item;
  Result<std::optional<HostPort>> from_text(std::string_view s) const;
  Result<std::optional<HostPort>> from_file(const ConfigValue& v) const;
  Result<std::optional<HostPort>> from_env(std::string_view s) const { return from_text(trim(s)); }
  ConfigValue to_value(const std::optional<HostPort>& hp) const { return string_value(hp ? hp->str() : ""); }
};

// An array of strings in the file, a comma-separated list in the env.
template <class Item>
struct List {
  Item item;
  using T = std::remove_cvref_t<decltype(*std::declval<Item>().from_text(std::string_view()))>;

  Result<std::vector<T>> from_file(const ConfigValue& v) const {
    if (v.type != ConfigValue::Type::Array) return expected("an array of strings", v);
    std::vector<T> out;
    for (std::size_t i = 0; i < v.items.size(); ++i) {
      if (v.items[i].type != ConfigValue::Type::String) {
        return expected("an array of strings", v.items[i]).prefixed("item " + std::to_string(i + 1));
      }
      auto one = item.from_text(v.items[i].string);
      if (!one) return one.error().prefixed("item " + std::to_string(i + 1));
      out.push_back(std::move(*one));
    }
    return out;
  }
  Result<std::vector<T>> from_env(std::string_view s) const {
    std::vector<T> out;
    const std::vector<std::string_view> parts = split_list(s);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      auto one = item.from_text(parts[i]);
      if (!one) return one.error().prefixed("item " + std::to_string(i + 1));
      out.push_back(std::move(*one));
    }
    return out;
  }
  ConfigValue to_value(const std::vector<T>& list) const {
    ConfigValue v;
    v.type = ConfigValue::Type::Array;
    for (const T& x : list) v.items.push_back(string_value(item.to_text(x)));
    return v;
  }
};

// One of a few words, exactly as written ("mx", "relayhost").
template <class E>
struct Enum {
  std::vector<std::pair<std::string_view, E>> names;

  Result<E> from_text(std::string_view s) const {
    std::string choices;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i].first == s) return names[i].second;
      choices += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + ("\"" + std::string(names[i].first) + "\"");
    }
    return Error::permanent("must be " + choices + ", got \"" + std::string(s) + "\"");
  }
  Result<E> from_file(const ConfigValue& v) const {
    if (v.type != ConfigValue::Type::String) return expected("a string", v);
    return from_text(v.string);
  }
  Result<E> from_env(std::string_view s) const { return from_text(trim(s)); }
  ConfigValue to_value(E e) const {
    for (const auto& [name, value] : names) {
      if (value == e) return string_value(std::string(name));
    }
    std::abort();  // our bug: an enumerator missing from the table
  }
};

}  // namespace tern::relay::codec
