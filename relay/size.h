#pragma once
// Byte sizes in the config: a plain count of bytes ("26214400") or a whole
// number with a binary suffix KiB, MiB or GiB ("25MiB" = 26214400). Decimal
// suffixes ("25M", "25MB") are refused because they are ambiguous (10^6 or
// 2^20?); the error says what to write. Overflow is an error, never a wrap.

#include <cstdint>
#include <string_view>

#include "smtp/result.h"

namespace tern::relay {

Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace tern::relay
