#include "relay/size.h"

#include <array>
#include <charconv>
#include <limits>
#include <string>

namespace tern::relay {

Result<std::uint64_t> parse_size(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error::permanent("\"" + std::string(text) + "\" is not a size: " + std::string(why));
  };
  std::uint64_t n = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(first, last, n);
  if (text.empty() || ec == std::errc::invalid_argument || text.front() == '+') {
    return bad("write a number of bytes, or a whole number with KiB, MiB or GiB");
  }
  if (ec == std::errc::result_out_of_range) return bad("it is too large");
  const std::string_view suffix(end, static_cast<std::size_t>(last - end));
  struct Suffix {
    std::string_view name;
    std::uint64_t factor;
  };
  static constexpr std::array<Suffix, 4> kSuffixes{{{"", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024},
                                                    {"GiB", 1024 * 1024 * 1024}}};
  for (const Suffix& s : kSuffixes) {
    if (suffix != s.name) continue;
    if (n > std::numeric_limits<std::uint64_t>::max() / s.factor) return bad("it is too large");
    return n * s.factor;
  }
  return bad("unknown unit \"" + std::string(suffix) + "\" (use KiB, MiB or GiB; \"M\" and \"MB\" are ambiguous)");
}

}  // namespace tern::relay
