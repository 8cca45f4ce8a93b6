#pragma once
// The table of every config key (INTERFACE.md order): its dotted name, its
// TERN_* variable, how to set it from a TOML value or an env string, and how
// to read it back as a plain value for to_toml/to_json. Internal to the config
// code (config.cc, config_output.cc). Setters check type, syntax and each key's
// own range; rules that tie keys together live in config_validate.cc. A setter
// error is the problem alone ("expected an integer, got a string"): the caller
// adds the key and where the value came from.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/config.h"
#include "smtp/result.h"

namespace tern::relay {

// A value as TOML has it, detached from toml++ so that the key table does
// not depend on the parser: what the file gives and what the output prints.
struct ConfigValue {
  enum class Type { String, Integer, Float, Boolean, Array, Table, Date, Time, DateTime };
  Type type = Type::String;
  std::string string;              // Type::String
  std::int64_t integer = 0;        // Type::Integer
  bool boolean = false;            // Type::Boolean
  std::vector<ConfigValue> items;  // Type::Array

  friend bool operator==(const ConfigValue&, const ConfigValue&) = default;
};

// "a string", "an integer", ... for "expected X, got Y".
std::string_view describe(ConfigValue::Type type);

struct ConfigKey {
  std::string section;  // "" for top-level keys
  std::string name;     // within the section: "workers"
  std::string dotted;   // "delivery.workers"
  std::string env;      // "TERN_DELIVERY_WORKERS"
  bool needs_restart = false;  // a SIGHUP reload cannot apply a change (INTERFACE.md)
  std::function<Status(Config&, const ConfigValue&)> set_from_file;
  std::function<Status(Config&, std::string_view)> set_from_env;
  std::function<ConfigValue(const Config&)> get;
};

const std::vector<ConfigKey>& config_keys();
// The sections in order: "submission", "delivery", "dns", "metrics".
const std::vector<std::string>& config_sections();
// nullptr when unknown.
const ConfigKey* find_key(std::string_view section, std::string_view name);
const ConfigKey* find_key_by_env(std::string_view env_name);

}  // namespace tern::relay
