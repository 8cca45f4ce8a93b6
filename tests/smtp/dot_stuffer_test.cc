// DotStuffer: the wire form of a body is right, and every body byte reaches
// the wire as a slice of the original buffer (no copies).
#include "smtp/dot_stuffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace tern::smtp {
namespace {

struct Row {
  const char* name;
  std::string body;
  std::string wire;
};

const Row kRows[] = {
    {"empty body", "", ".\r\n"},
    {"one line", "Hello\r\n", "Hello\r\n.\r\n"},
    {"no final CRLF", "Hello", "Hello\r\n.\r\n"},
    {"leading dot", ".hidden\r\n", "..hidden\r\n.\r\n"},
    {"lone dot line inside", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
    {"body is a lone dot line", ".\r\n", "..\r\n.\r\n"},
    {"body is a dot without CRLF", ".", "..\r\n.\r\n"},
    {"two dots", "..\r\n", "...\r\n.\r\n"},
    {"consecutive dot lines", ".a\r\n.b\r\n.c\r\n", "..a\r\n..b\r\n..c\r\n.\r\n"},
    {"dot not at line start", "a.b\r\nc .\r\n", "a.b\r\nc .\r\n.\r\n"},
    {"dot line without final CRLF", "a\r\n.b", "a\r\n..b\r\n.\r\n"},
    {"only CRLF", "\r\n", "\r\n.\r\n"},
    {"empty lines then dot", "\r\n\r\n.x\r\n", "\r\n\r\n..x\r\n.\r\n"},
    // Lines end at CRLF only: a lone LF or CR is an ordinary byte, not a line start.
    {"lone LF then dot", "a\n.b\r\n", "a\n.b\r\n.\r\n"},
    {"lone CR then dot", "a\r.b\r\n", "a\r.b\r\n.\r\n"},
    {"ends with lone CR", "a\r", "a\r\r\n.\r\n"},
    {"ends with lone LF", "a\n", "a\n\r\n.\r\n"},
    {"smuggling attempt kept as data", "x\r\n.\r\nMAIL FROM:<a@b>\r\n", "x\r\n..\r\nMAIL FROM:<a@b>\r\n.\r\n"},
};

struct Collected {
  std::string wire;
  std::size_t body_bytes = 0;
  bool all_slices_in_body = true;
  bool inserted_ok = true;
  std::size_t pieces = 0;
};

Collected collect(std::string_view body) {
  Collected c;
  DotStuffer stuffer(body);
  const char* lo = body.data();
  const char* hi = body.data() + body.size();
  while (auto piece = stuffer.next()) {
    ++c.pieces;
    c.wire += piece->bytes;
    if (piece->from_body) {
      c.body_bytes += piece->bytes.size();
      if (piece->bytes.empty() || piece->bytes.data() < lo || piece->bytes.data() + piece->bytes.size() > hi) {
        c.all_slices_in_body = false;
      }
    } else if (piece->bytes != "." && piece->bytes != ".\r\n" && piece->bytes != "\r\n.\r\n") {
      c.inserted_ok = false;
    }
    if (c.pieces > 4 * body.size() + 8) break;  // bounded: a runaway stuffer fails below
  }
  EXPECT_FALSE(stuffer.next().has_value()) << "pieces after the terminator";
  return c;
}

// The definition, written the slow way: copy line by line.
std::string reference_wire(std::string_view body) {
  std::string out;
  bool line_start = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (line_start && body[i] == '.') out += '.';
    out += body[i];
    line_start = body[i] == '\n' && i > 0 && body[i - 1] == '\r';
  }
  if (!body.empty() && !body.ends_with("\r\n")) out += "\r\n";
  out += ".\r\n";
  return out;
}

TEST(DotStuffer, Table) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(row.name);
    // A heap copy, so that a slice pointing anywhere but into it is caught.
    const std::string body = row.body;
    Collected c = collect(body);
    EXPECT_EQ(c.wire, row.wire);
    EXPECT_EQ(c.wire, reference_wire(body));
    EXPECT_EQ(c.body_bytes, body.size()) << "every body byte goes out as a slice, none as a copy";
    EXPECT_TRUE(c.all_slices_in_body);
    EXPECT_TRUE(c.inserted_ok);
  }
}

TEST(DotStuffer, SlicesAreInOrderAndContiguous) {
  const std::string body = "a\r\n.b\r\nc\r\n..d\r\n";
  DotStuffer stuffer(body);
  const char* expect_next = body.data();
  while (auto piece = stuffer.next()) {
    if (!piece->from_body) continue;
    EXPECT_EQ(piece->bytes.data(), expect_next);
    expect_next = piece->bytes.data() + piece->bytes.size();
  }
  EXPECT_EQ(expect_next, body.data() + body.size());
}

TEST(DotStuffer, LargeBodyOfDotLinesStaysLinear) {
  std::string body;
  for (int i = 0; i < 100000; ++i) body += ".\r\n";
  Collected c = collect(body);
  EXPECT_EQ(c.wire, reference_wire(body));
  EXPECT_EQ(c.body_bytes, body.size());
  EXPECT_EQ(c.pieces, 2u * 100000u + 1u);  // "." + slice per line, then the terminator
}

// Up to max_len - 1 octets of '.', CR, LF and 'a': every stuffing and line-end case.
std::string random_text(std::mt19937& rng, unsigned max_len) {
  const char alphabet[] = {'.', '\r', '\n', 'a'};
  std::string text(rng() % max_len, 'a');
  for (char& ch : text) ch = alphabet[rng() % 4];
  return text;
}

TEST(DotStuffer, RandomBodiesMatchTheReference) {
  std::mt19937 rng(20240601);  // fixed seed: reproducible
  for (int round = 0; round < 5000; ++round) {
    const std::string body = random_text(rng, 24);
    Collected c = collect(body);
    ASSERT_EQ(c.wire, reference_wire(body)) << "body: " << testing::PrintToString(body);
    ASSERT_EQ(c.body_bytes, body.size());
    ASSERT_TRUE(c.all_slices_in_body);
  }
}

// Head (tern's trace fields, whole lines) and body kept apart: the wire is
// that of their concatenation, and every slice lies in one or the other.
TEST(DotStuffer, HeadThenBodyIsTheConcatenation) {
  std::mt19937 rng(20261205);  // fixed seed: reproducible
  for (int round = 0; round < 5000; ++round) {
    std::string head = random_text(rng, 12);
    if (!head.empty() || rng() % 2 == 0) head += "\r\n";
    if (round % 7 == 0) head.clear();
    const std::string body = random_text(rng, 24);
    DotStuffer stuffer(head, body);
    std::string wire;
    std::size_t from_head = 0, from_body = 0;
    while (auto piece = stuffer.next()) {
      wire += piece->bytes;
      if (!piece->from_body) continue;
      const char* p = piece->bytes.data();
      if (p >= head.data() && p + piece->bytes.size() <= head.data() + head.size()) {
        from_head += piece->bytes.size();
      } else {
        ASSERT_TRUE(p >= body.data() && p + piece->bytes.size() <= body.data() + body.size());
        from_body += piece->bytes.size();
      }
    }
    ASSERT_EQ(wire, reference_wire(head + body)) << testing::PrintToString(head) << " + " << testing::PrintToString(body);
    ASSERT_EQ(from_head, head.size());
    ASSERT_EQ(from_body, body.size());
  }
}

TEST(DotStuffer, HeadWithEmptyBody) {
  DotStuffer stuffer("Received: x\r\n", "");
  std::string wire;
  while (auto piece = stuffer.next()) wire += piece->bytes;
  EXPECT_EQ(wire, "Received: x\r\n.\r\n");
}

}  // namespace
}  // namespace tern::smtp
