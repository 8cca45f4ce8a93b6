// `tern trace`: reads a message from a file or stdin, parses its Received:
// fields with smtp::received_chain and prints the hops.
#include "relay/trace_cmd.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relay/cli.h"
#include "relay/exit_codes.h"
#include "smtp/mail_date.h"

namespace tern::relay {
namespace {

// Only the header section matters, so reading stops at its end; a header
// section larger than this is cut here rather than filling memory.
constexpr size_t kMaxInputBytes = 64 * 1024 * 1024;
constexpr size_t kChunkBytes = 64 * 1024;

// Control bytes (ESC among them) and DEL become '?', tabs from unfolding a
// space: nothing from the message can drive the terminal.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\t') {
      out += ' ';
    } else if (u < 0x20 || u == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

std::string or_unknown(const std::string& s) { return s.empty() ? "?" : printable(s); }

// What a hop with neither from nor by says for itself: its text before the date.
std::string route(const smtp::Hop& hop) {
  if (!hop.from.empty() || !hop.by.empty()) return or_unknown(hop.from) + " -> " + or_unknown(hop.by);
  std::string_view raw = hop.raw;
  if (size_t semi = raw.rfind(';'); semi != std::string_view::npos) raw = raw.substr(0, semi);
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t')) raw.remove_suffix(1);
  return raw.empty() ? "? -> ?" : printable(raw);
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string dot_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : printable(s)) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool header_complete(const std::string& buf, size_t searched_from) {
  if (buf.rfind("\n", 0) == 0 || buf.rfind("\r\n", 0) == 0) return true;  // empty header section
  size_t from = searched_from >= 2 ? searched_from - 2 : 0;
  return buf.find("\n\n", from) != std::string::npos || buf.find("\n\r\n", from) != std::string::npos;
}

// Reads the message's header section (and perhaps some body) from `in`.
// Returns false with errno set on a read error.
bool read_header_section(std::FILE* in, std::string& out) {
  char chunk[kChunkBytes];
  while (out.size() < kMaxInputBytes) {
    size_t n = std::fread(chunk, 1, sizeof chunk, in);
    size_t before = out.size();
    out.append(chunk, n);
    if (n < sizeof chunk) return !std::ferror(in);
    if (header_complete(out, before)) return true;
  }
  std::cerr << "tern trace: header section longer than " << kMaxInputBytes / (1024 * 1024)
            << " MiB: reading only its start\n";
  return true;
}

}  // namespace

std::string format_delay(std::optional<std::chrono::seconds> delay, bool first_hop) {
  if (first_hop) return "-";
  if (!delay) return "?";
  long long total = delay->count();
  std::string out = total < 0 ? "-" : "+";
  unsigned long long s = total < 0 ? 0ULL - static_cast<unsigned long long>(total) : static_cast<unsigned long long>(total);
  unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  char buf[96];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%llud%02lluh%02llum%02llus", d, h, m, sec);
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lluh%02llum%02llus", h, m, sec);
  } else if (m > 0) {
    std::snprintf(buf, sizeof buf, "%llum%02llus", m, sec);
  } else {
    std::snprintf(buf, sizeof buf, "%llus", sec);
  }
  return out + buf;
}

std::string trace_table(const std::vector<smtp::Hop>& hops) {
  struct Row {
    std::string index, timestamp, delay, route, with, id;
  };
  std::vector<Row> rows;
  size_t w_index = 0, w_time = 0, w_delay = 0, w_route = 0, w_with = 0;
  for (size_t i = 0; i < hops.size(); ++i) {
    const smtp::Hop& hop = hops[i];
    Row r{std::to_string(i + 1), hop.timestamp ? smtp::format_rfc3339(*hop.timestamp) : "?",
          format_delay(hop.delay, i == 0), route(hop), or_unknown(hop.with), or_unknown(hop.id)};
    w_index = std::max(w_index, r.index.size());
    w_time = std::max(w_time, r.timestamp.size());
    w_delay = std::max(w_delay, r.delay.size());
    w_route = std::max(w_route, r.route.size());
    w_with = std::max(w_with, r.with.size());
    rows.push_back(std::move(r));
  }
  std::string out;
  for (const Row& r : rows) {
    out += std::string(w_index - r.index.size(), ' ') + r.index + "  " + pad(r.timestamp, w_time) + "  " +
           pad(r.delay, w_delay) + "  " + pad(r.route, w_route) + "  " + pad(r.with, w_with) + "  " + r.id + "\n";
  }
  return out;
}

std::string trace_json(const std::vector<smtp::Hop>& hops) {
  using Json = nlohmann::ordered_json;  // keys in the order INTERFACE.md lists them
  auto text = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  Json array = Json::array();
  for (size_t i = 0; i < hops.size(); ++i) {
    const smtp::Hop& hop = hops[i];
    Json h = Json::object();
    h["from"] = text(hop.from);
    h["by"] = text(hop.by);
    h["with"] = text(hop.with);
    h["id"] = text(hop.id);
    h["timestamp"] = hop.timestamp ? Json(smtp::format_rfc3339(*hop.timestamp)) : Json(nullptr);
    h["delay_seconds"] = (i > 0 && hop.delay) ? Json(hop.delay->count()) : Json(nullptr);
    array.push_back(std::move(h));
  }
  // Header bytes need not be UTF-8: replace what is not rather than throw.
  return array.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string trace_dot(const std::vector<smtp::Hop>& hops) {
  // Nodes are keyed by host name, so "relay.example.com [198.51.100.5]" as a
  // sender is the node "relay.example.com" that received the hop before.
  auto host_key = [](std::string_view s) {
    std::string_view whole = s;
    s = s.substr(0, s.find(' '));
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    std::string key(s);
    for (char& c : key) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return key == "unknown" ? std::string(whole) : key;  // qmail's "unknown" names no host
  };
  std::map<std::string, std::string> ids;  // host key -> node id
  std::string nodes, edges;
  size_t next_id = 0;
  auto new_node = [&](const std::string& label) {
    std::string id = "n" + std::to_string(next_id++);
    nodes += "  " + id + " [label=" + dot_quote(label) + "];\n";
    return id;
  };
  auto node_for = [&](const std::string& name) {
    std::string key = host_key(name);
    auto it = ids.find(key);
    if (it != ids.end()) return it->second;
    std::string id = new_node(name);
    ids.emplace(key, id);
    return id;
  };
  std::string previous_by;
  for (size_t i = 0; i < hops.size(); ++i) {
    const smtp::Hop& hop = hops[i];
    std::string from_id;
    if (!hop.from.empty()) {
      from_id = node_for(hop.from);
    } else if (!previous_by.empty()) {
      from_id = previous_by;
    } else {
      from_id = new_node("?");
    }
    std::string by_id;
    if (!hop.by.empty()) {
      by_id = node_for(hop.by);
    } else {
      std::string note = hop.from.empty() ? route(hop) : "?";  // qmail's "(qmail 1234 invoked ...)"
      by_id = new_node(note == "? -> ?" ? "?" : note);
    }
    edges += "  " + from_id + " -> " + by_id + " [label=" + dot_quote(format_delay(hop.delay, i == 0)) + "];\n";
    previous_by = by_id;
  }
  return "digraph received {\n  rankdir=LR;\n  node [shape=box];\n" + nodes + edges + "}\n";
}

int run_trace(const CommonOptions& /*common: trace reads no configuration*/, const TraceOptions& opts) {
  std::FILE* in = stdin;
  std::string name = "stdin";
  if (opts.file && *opts.file != "-") {
    name = *opts.file;
    in = std::fopen(name.c_str(), "rb");
    if (in == nullptr) {
      std::cerr << "tern trace: " << name << ": " << std::strerror(errno) << "\n";
      return kExNoInput;
    }
  }
  std::string message;
  bool ok = read_header_section(in, message);
  int read_errno = errno;
  if (in != stdin) std::fclose(in);
  if (!ok) {
    std::cerr << "tern trace: " << name << ": " << std::strerror(read_errno) << "\n";
    return kExNoInput;
  }

  std::vector<smtp::Hop> hops = smtp::received_chain(message);
  if (hops.empty()) {
    std::cerr << "tern trace: no Received: header fields found\n";
    return kExDataErr;
  }
  std::string out = opts.json ? trace_json(hops) : opts.dot ? trace_dot(hops) : trace_table(hops);
  std::cout << out << std::flush;
  if (!std::cout) {
    std::cerr << "tern trace: writing the output failed\n";
    return kExIoErr;
  }
  return kExOk;
}

}  // namespace tern::relay
