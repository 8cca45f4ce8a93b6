// base64 (RFC 4648 §4) and xtext (RFC 3461 §4). Both decoders are strict:
// what they accept is exactly what the matching encoder can produce (plus,
// for xtext, "+XX" for characters that did not need it), so a decoded value
// never depends on a guess about what the peer meant.
#include "smtp/encoding.h"

#include <array>
#include <cstdint>

namespace tern::smtp {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_base64_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < kBase64Alphabet.size(); ++i) {
    table[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}
constexpr std::array<std::int8_t, 256> kBase64Values = make_base64_table();

constexpr std::string_view kHexUpper = "0123456789ABCDEF";

int hex_upper_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 3461 hexchar is upper case only
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                      (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                      std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                      (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last_quad = i + 4 == text.size();
    // Padding is allowed only at the very end: "xx==" or "xxx=".
    std::size_t pad = 0;
    if (last_quad) {
      if (text[i + 3] == '=') pad = (text[i + 2] == '=') ? 2 : 1;
    }
    std::uint32_t n = 0;
    for (std::size_t j = 0; j < 4 - pad; ++j) {
      std::int8_t v = kBase64Values[static_cast<unsigned char>(text[i + j])];
      if (v < 0) return std::nullopt;
      n |= std::uint32_t(v) << (18 - 6 * j);
    }
    // Non-zero bits under the padding would make two texts decode alike
    // (RFC 4648 §3.5): reject, so decode∘encode is the identity.
    if (pad == 2 && (n & 0xFFFF) != 0) return std::nullopt;
    if (pad == 1 && (n & 0xFF) != 0) return std::nullopt;
    out += static_cast<char>((n >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

std::string xtext_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out += ch;
    } else {
      out += '+';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 15];
    }
  }
  return out;
}

std::optional<std::string> xtext_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '+') {
      if (text.size() - i < 3) return std::nullopt;  // "+" needs two hex digits
      int hi = hex_upper_value(text[i + 1]);
      int lo = hex_upper_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c >= 33 && c <= 126 && c != '=') {
      out += static_cast<char>(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace tern::smtp
