// ReplyParser on arbitrary bytes: never crashes; what it yields does not
// depend on how the bytes are split (whole, one byte at a time, and random
// splits derived from the data give the same replies and the same error);
// every reply it yields re-encodes and re-parses to itself; once failed it
// stays failed.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.h"

namespace {

using tern::smtp::Reply;
using tern::smtp::ReplyParser;

struct Outcome {
  std::vector<Reply> replies;
  std::optional<std::string> error;
  std::size_t buffered = 0;
  bool operator==(const Outcome&) const = default;
};

// Feeds `input` in pieces whose sizes come from `next_size`; drains after each.
template <class NextSize>
Outcome run(std::string_view input, NextSize next_size) {
  ReplyParser parser;
  Outcome out;
  std::size_t pos = 0;
  while (pos < input.size() && !out.error) {
    std::size_t n = next_size();
    if (n > input.size() - pos) n = input.size() - pos;
    parser.feed(input.substr(pos, n));
    pos += n;
    while (auto r = parser.next()) {
      if (!*r) {
        if (!r->error().is_transient()) __builtin_trap();
        if (r->error().message().rfind("protocol error: ", 0) != 0) __builtin_trap();
        out.error = r->error().message();
        // Failed for good, whatever comes next.
        parser.feed("250 OK\r\n");
        auto again = parser.next();
        if (!again || *again || again->error().message() != *out.error) __builtin_trap();
        break;
      }
      out.replies.push_back(**r);
    }
  }
  out.buffered = out.error ? 0 : parser.buffered();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  Outcome whole = run(input, [&] { return input.size() + 1; });
  Outcome bytewise = run(input, [] { return std::size_t{1}; });
  // Split sizes from a PRNG seeded by the data (FNV-1a, then xorshift).
  std::uint64_t state = 1469598103934665603ull;
  for (unsigned char c : input) state = (state ^ c) * 1099511628211ull;
  state |= 1;
  Outcome random = run(input, [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<std::size_t>(state % 8 == 0 ? 1 + state % 600 : 1 + state % 9);
  });
  if (!(whole == bytewise) || !(whole == random)) __builtin_trap();

  for (const Reply& reply : whole.replies) {
    if (reply.code < 200 || reply.code > 599 || reply.lines.empty()) __builtin_trap();
    if (reply.enhanced && reply.enhanced->klass != reply.code / 100) __builtin_trap();
    ReplyParser again;
    again.feed(reply.encode());
    auto r = again.next();
    if (!r || !*r || !(**r == reply) || again.buffered() != 0) __builtin_trap();
    (void)reply.summary();
  }
  return 0;
}
