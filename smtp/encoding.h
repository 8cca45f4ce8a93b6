#pragma once
// Small codecs the protocol needs: base64 (RFC 4648, for AUTH, RFC 4954) and
// xtext (RFC 3461 §4, for ENVID= and ORCPT=). Decoders reject malformed input
// (nullopt) instead of guessing.

#include <optional>
#include <string>
#include <string_view>

namespace tern::smtp {

std::string base64_encode(std::string_view bytes);
// Strict: only the standard alphabet, correct '=' padding, no whitespace.
std::optional<std::string> base64_decode(std::string_view text);

// xtext: printable ASCII 33..126 except '+' and '=' as itself, anything else "+XX".
std::string xtext_encode(std::string_view bytes);
std::optional<std::string> xtext_decode(std::string_view text);

}  // namespace tern::smtp
