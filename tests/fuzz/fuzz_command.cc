// parse_command on arbitrary bytes: never crashes, and every line it accepts
// re-encodes to a line that parses back to the same Command (with the same
// CommandSyntax). Every refusal is a well-formed 4xx/5xx reply that survives
// a trip through ReplyParser, since that is what the client will read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "smtp/command.h"
#include "smtp/reply.h"

namespace {

void check(std::string_view line, const tern::smtp::CommandSyntax& syntax) {
  using namespace tern::smtp;
  auto got = parse_command(line, syntax);
  if (const auto* c = std::get_if<Command>(&got)) {
    std::string wire = encode(*c);
    if (wire.size() < 2 || wire.compare(wire.size() - 2, 2, "\r\n") != 0) __builtin_trap();
    std::string_view again_line(wire.data(), wire.size() - 2);
    if (again_line.find_first_of("\r\n") != std::string_view::npos) __builtin_trap();
    auto again = parse_command(again_line, syntax);
    const auto* c2 = std::get_if<Command>(&again);
    if (c2 == nullptr || !(*c2 == *c)) __builtin_trap();
    if (encode(*c2) != wire) __builtin_trap();
    return;
  }
  const Reply& reply = std::get<Reply>(got);
  if (reply.code < 400 || reply.code > 599 || !reply.enhanced) __builtin_trap();
  ReplyParser parser;
  parser.feed(reply.encode());
  auto parsed = parser.next();
  if (!parsed || !*parsed || !(**parsed == reply) || parser.buffered() != 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  check(line, tern::smtp::CommandSyntax{.utf8_in_transaction = false});
  check(line, tern::smtp::CommandSyntax{.utf8_in_transaction = true});
  return 0;
}
