#include "relay/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace tern::relay {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t ms;
};
// Largest first: parse_duration demands this order, format_duration emits it.
constexpr std::array<Unit, 5> kUnits{{
    {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

Error bad(std::string_view text, std::string_view why) {
  return Error::permanent("\"" + std::string(text) + "\" is not a duration: " + std::string(why));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return bad(text, "it is empty (write e.g. \"30s\" or \"5m\")");
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // index into kUnits: units must come in decreasing order
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t') return bad(text, "remove the spaces (write e.g. \"1h20m\")");
    if (c == '-' || c == '+') return bad(text, "signs are not allowed");
    if (!is_digit(c)) return bad(text, "expected a number before each unit");
    std::int64_t n = 0;
    while (i < text.size() && is_digit(text[i])) {
      const int digit = text[i] - '0';
      if (n > (kMax - digit) / 10) return bad(text, "it is too large");
      n = n * 10 + digit;
      ++i;
    }
    if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
      return bad(text, "fractions are not allowed (write \"1h30m\", not \"1.5h\")");
    }
    const std::size_t unit_start = i;
    while (i < text.size() && is_letter(text[i])) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit.empty()) {
      return bad(text, "a unit is missing (ms, s, m, h or d): a bare number is ambiguous");
    }
    std::size_t u = 0;
    while (u < kUnits.size() && kUnits[u].name != unit) ++u;
    if (u == kUnits.size()) {
      return bad(text, "unknown unit \"" + std::string(unit) + "\" (use ms, s, m, h or d)");
    }
    if (u < next_unit) {
      return bad(text, "units must go from largest to smallest, each once (e.g. \"1h20m\")");
    }
    next_unit = u + 1;
    if (n > kMax / kUnits[u].ms || total > kMax - n * kUnits[u].ms) return bad(text, "it is too large");
    total += n * kUnits[u].ms;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t left = d.count();
  if (left == 0) return "0s";
  std::string out;
  if (left < 0) {
    out = "-";
    // -min has no positive counterpart; one millisecond off is the best we can say.
    left = left == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max() : -left;
  }
  for (const Unit& unit : kUnits) {
    const std::int64_t n = left / unit.ms;
    if (n == 0) continue;
    out += std::to_string(n);
    out += unit.name;
    left -= n * unit.ms;
  }
  return out;
}

}  // namespace tern::relay
