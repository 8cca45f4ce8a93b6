#pragma once
// Durations as tern's config writes them: a sequence of <digits><unit> with
// units d, h, m, s, ms from largest to smallest, each at most once, no spaces:
// "500ms", "30s", "5m", "1h20m", "5d". Bare numbers ("300") are refused as
// ambiguous, and so are signs, fractions and spaces ("1h 20m"): the error says
// what to write instead. format_duration() writes the same syntax, so
// parse_duration(format_duration(d)) == d for every d >= 0.

#include <chrono>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::relay {

// Fails (Permanent) with a sentence quoting the text; never throws.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Largest units first, zero parts left out: 0 -> "0s", 90 min -> "1h30m",
// 36 h -> "1d12h", 1500 ms -> "1s500ms". Negative values get a leading "-"
// (which parse_duration refuses: tern never configures a negative duration).
std::string format_duration(std::chrono::milliseconds d);

}  // namespace tern::relay
