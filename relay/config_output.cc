// to_toml and to_json: the effective config, every key, from the key table
// (so a new key cannot be forgotten here). TOML output is meant to be read by
// people and loaded again: sections in INTERFACE.md's order, values aligned.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "relay/config.h"
#include "relay/config_keys.h"

namespace tern::relay {
namespace {

// TOML basic string: escape quotes, backslashes and control characters.
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string toml_value(const ConfigValue& v) {
  switch (v.type) {
    case ConfigValue::Type::String: return toml_string(v.string);
    case ConfigValue::Type::Integer: return std::to_string(v.integer);
    case ConfigValue::Type::Boolean: return v.boolean ? "true" : "false";
    case ConfigValue::Type::Array: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.items.size(); ++i) out += (i == 0 ? "" : ", ") + toml_value(v.items[i]);
      return out + "]";
    }
    default: return "\"\"";  // the key table produces only the types above
  }
}

nlohmann::json json_value(const ConfigValue& v) {
  switch (v.type) {
    case ConfigValue::Type::String: return v.string;
    case ConfigValue::Type::Integer: return v.integer;
    case ConfigValue::Type::Boolean: return v.boolean;
    case ConfigValue::Type::Array: {
      nlohmann::json out = nlohmann::json::array();
      for (const ConfigValue& item : v.items) out.push_back(json_value(item));
      return out;
    }
    default: return nullptr;  // the key table produces only the types above
  }
}

void append_section(std::string& out, const Config& config, const std::string& section) {
  std::size_t width = 0;
  for (const ConfigKey& key : config_keys()) {
    if (key.section == section) width = std::max(width, key.name.size());
  }
  if (!section.empty()) out += "\n[" + section + "]\n";
  for (const ConfigKey& key : config_keys()) {
    if (key.section != section) continue;
    out += key.name + std::string(width - key.name.size(), ' ') + " = " + toml_value(key.get(config)) + "\n";
  }
}

}  // namespace

std::string to_toml(const Config& config) {
  std::string out = "# tern effective configuration; source: " + config.source + "\n";
  if (config.source.find('\n') != std::string::npos) out = "# tern effective configuration\n";
  append_section(out, config, "");
  for (const std::string& section : config_sections()) append_section(out, config, section);
  return out;
}

nlohmann::json to_json(const Config& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const ConfigKey& key : config_keys()) {
    nlohmann::json value = json_value(key.get(config));
    if (key.section.empty()) {
      out[key.name] = std::move(value);
    } else {
      out[key.section][key.name] = std::move(value);
    }
  }
  return out;
}

}  // namespace tern::relay
