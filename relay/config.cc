// load_config: defaults, then the TOML file, then TERN_* variables, then
// validation. Problems are collected rather than stopping at the first, so
// one run of check-config shows everything to fix; only a TOML syntax error
// or an unreadable file stops at once (nothing after it can be trusted).
#include "relay/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include "relay/cli.h"
#include "relay/config_keys.h"
#include "relay/config_validate.h"
#include "relay/did_you_mean.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace tern::relay {
namespace {

// A config file is a few KiB; anything this large is the wrong file.
constexpr std::size_t kMaxConfigBytes = 1 << 20;

ConfigValue convert(const toml::node& node) {
  ConfigValue v;
  switch (node.type()) {
    case toml::node_type::string:
      v.type = ConfigValue::Type::String;
      v.string = std::string(node.as_string()->get());
      break;
    case toml::node_type::integer:
      v.type = ConfigValue::Type::Integer;
      v.integer = node.as_integer()->get();
      break;
    case toml::node_type::boolean:
      v.type = ConfigValue::Type::Boolean;
      v.boolean = node.as_boolean()->get();
      break;
    case toml::node_type::array:
      v.type = ConfigValue::Type::Array;
      for (const toml::node& item : *node.as_array()) v.items.push_back(convert(item));
      break;
    case toml::node_type::floating_point: v.type = ConfigValue::Type::Float; break;
    case toml::node_type::table: v.type = ConfigValue::Type::Table; break;
    case toml::node_type::date: v.type = ConfigValue::Type::Date; break;
    case toml::node_type::time: v.type = ConfigValue::Type::Time; break;
    case toml::node_type::date_time: v.type = ConfigValue::Type::DateTime; break;
    case toml::node_type::none: v.type = ConfigValue::Type::Table; break;  // not produced by the parser
  }
  return v;
}

std::vector<std::string> all_dotted_keys() {
  std::vector<std::string> out;
  for (const ConfigKey& key : config_keys()) out.push_back(key.dotted);
  return out;
}

std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best = did_you_mean(word, candidates);
  return best ? " (did you mean " + *best + "?)" : "";
}

struct Loader {
  Config config;
  std::map<std::string, std::string, std::less<>> origins;  // dotted key -> "in FILE:LINE" / "from TERN_X"
  std::vector<std::string> errors;

  std::string origin(std::string_view dotted) const {
    auto it = origins.find(dotted);
    if (it != origins.end()) return it->second;
    return dotted == "hostname" ? "default: the system host name" : "default";
  }

  void set_from_file(const ConfigKey& key, const toml::node& node, const std::string& where) {
    origins[key.dotted] = "in " + where;
    Status s = key.set_from_file(config, convert(node));
    if (!s) errors.push_back(key.dotted + ": " + s.error().message() + " (in " + where + ")");
  }

  void walk_file(const toml::table& root, const std::string& path) {
    auto where = [&](const toml::source_region& r) { return path + ":" + std::to_string(r.begin.line); };
    // toml++ iterates keys sorted by name; problems read better in file order.
    struct Entry {
      std::string section;  // "" at top level
      const toml::key* key;
      const toml::node* node;
    };
    std::vector<Entry> entries;
    const std::vector<std::string>& sections = config_sections();
    for (const auto& [k, node] : root) {
      const std::string name(k.str());
      const bool is_section = std::find(sections.begin(), sections.end(), name) != sections.end();
      const toml::table* table = node.as_table();
      if (is_section && table != nullptr) {
        for (const auto& [k2, node2] : *table) entries.push_back({name, &k2, &node2});
      } else {
        entries.push_back({"", &k, &node});
      }
    }
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.key->source().begin.line < b.key->source().begin.line;
    });
    for (const Entry& e : entries) {
      const std::string name(e.key->str());
      const std::string at = where(e.key->source());
      const bool is_section = std::find(sections.begin(), sections.end(), name) != sections.end();
      if (const ConfigKey* key = find_key(e.section, name)) {
        set_from_file(*key, *e.node, at);
      } else if (e.section.empty() && is_section) {  // a section that is not a table: "submission = 5"
        errors.push_back(name + ": expected a table ([" + name + "]), got " +
                         std::string(describe(convert(*e.node).type)) + " (in " + at + ")");
      } else if (e.section.empty() && e.node->is_table()) {
        std::vector<std::string> bracketed;
        for (const std::string& s : sections) bracketed.push_back("[" + s + "]");
        errors.push_back("unknown section [" + name + "] in " + at + suggestion("[" + name + "]", bracketed));
      } else {
        const std::string dotted = e.section.empty() ? name : e.section + "." + name;
        errors.push_back("unknown key " + dotted + " in " + at + suggestion(dotted, all_dotted_keys()));
      }
    }
  }

  // Env wins over the file: it is applied after.
  void apply_env(const Env& env, std::vector<std::string>& used) {
    std::vector<std::string> names;
    for (const ConfigKey& key : config_keys()) names.push_back(key.env);
    for (const auto& [name, value] : env) {
      if (name.rfind("TERN_", 0) != 0) continue;  // not ours (TERNTEST_* included)
      const ConfigKey* key = find_key_by_env(name);
      if (key == nullptr) {
        errors.push_back("unknown environment variable " + name + suggestion(name, names));
        continue;
      }
      used.push_back(name);
      origins[key->dotted] = "from " + name;
      Status s = key->set_from_env(config, value);
      if (!s) errors.push_back(key->dotted + ": " + s.error().message() + " (from " + name + ")");
    }
  }
};

Result<std::string> read_file(const std::string& path) {
  auto failed = [&path](int err) {
    return Error::permanent("cannot read config file " + path + ": " + std::strerror(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return failed(errno);
  std::string text;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return failed(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return Error::permanent("config file " + path + " is larger than " + std::to_string(kMaxConfigBytes) +
                              " bytes: is it the right file?");
    }
  }
  ::close(fd);  // read-only: a failed close loses nothing
  return text;
}

std::string join(const std::vector<std::string>& lines, std::string_view sep) {
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : std::string(sep)) + line;
  return out;
}

}  // namespace

std::string system_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

Env tern_environment() {
  Env env;
  for (char** p = environ; p != nullptr && *p != nullptr; ++p) {
    const std::string_view entry(*p);
    if (entry.rfind("TERN_", 0) != 0) continue;
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Result<Config> load_config(const std::optional<std::string>& path, const Env& env, std::string_view default_path) {
  Loader loader;
  std::optional<std::string> file = path;
  if (!file) {
    struct stat st {};
    const std::string candidate(default_path);
    if (::stat(candidate.c_str(), &st) == 0) {
      file = candidate;
    } else if (errno != ENOENT) {
      return Error::permanent("cannot read config file " + candidate + ": " + std::strerror(errno));
    }
  }
  std::string source = "defaults";
  if (file) {
    Result<std::string> text = read_file(*file);
    if (!text) return text.error();
    try {
      const toml::table root = toml::parse(*text, *file);
      loader.walk_file(root, *file);
    } catch (const toml::parse_error& e) {
      const toml::source_position& at = e.source().begin;
      return Error::permanent(*file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " +
                              std::string(e.description()));
    }
    source = *file;
  }
  std::vector<std::string> used;
  loader.apply_env(env, used);
  if (!used.empty()) source += " + env " + join(used, ", ");
  if (!loader.errors.empty()) return Error::permanent(join(loader.errors, "\n"));

  std::vector<std::string> problems =
      validate_config(loader.config, [&loader](std::string_view key) { return loader.origin(key); });
  if (!problems.empty()) return Error::permanent(join(problems, "\n"));
  loader.config.source = source;
  return std::move(loader.config);
}

Result<Config> load_config_for(const CommonOptions& common) {
  return load_config(common.config_path, tern_environment());
}

int effective_io_threads(const Config& config) {
  if (config.submission.io_threads > 0) return static_cast<int>(config.submission.io_threads);
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

std::vector<std::string> keys_needing_restart(const Config& running, const Config& reloaded) {
  std::vector<std::string> out;
  for (const ConfigKey& key : config_keys()) {
    if (key.needs_restart && key.get(running) != key.get(reloaded)) out.push_back(key.dotted);
  }
  return out;
}

}  // namespace tern::relay
