#include "smtp/line_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::smtp {
namespace {

// Feeds `input` in pieces of `step` bytes (0: whole) and returns the events as
// words: "L:<line>", "TooLong", "BareLf", "BareCr". Stops at a bare newline,
// as the session does.
std::vector<std::string> events(LineReader& reader, std::string_view input, std::size_t step) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < input.size()) {
    const std::size_t n = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    std::string_view piece = input.substr(pos, n);
    pos += n;
    while (!piece.empty()) {
      LineReader::Result r = reader.feed(piece);
      EXPECT_LE(r.consumed, piece.size());
      piece.remove_prefix(r.consumed);
      switch (r.event) {
        case LineReader::Event::NeedMore:
          EXPECT_TRUE(piece.empty()) << "NeedMore must consume everything";
          piece = {};
          break;
        case LineReader::Event::Line: out.push_back("L:" + std::string(r.line)); break;
        case LineReader::Event::TooLong: out.emplace_back("TooLong"); break;
        case LineReader::Event::BareLf: out.emplace_back("BareLf"); return out;
        case LineReader::Event::BareCr: out.emplace_back("BareCr"); return out;
      }
    }
  }
  return out;
}

struct Row {
  const char* name;
  std::string input;
  std::vector<std::string> want;
  bool auth_continuation = false;
};

std::vector<Row> rows() {
  const std::string x510(510, 'x');
  const std::string x511(511, 'x');
  return {
      {"one line", "EHLO client.example\r\n", {"L:EHLO client.example"}},
      {"two lines", "A\r\nB\r\n", {"L:A", "L:B"}},
      {"partial tail kept", "A\r\nB", {"L:A"}},
      {"empty line", "\r\n", {"L:"}},
      {"bare LF", "A\nB\r\n", {"BareLf"}},
      {"bare LF first", "\n", {"BareLf"}},
      {"bare CR", "A\rB\r\n", {"BareCr"}},
      {"CR CR LF", "A\r\r\n", {"BareCr"}},
      {"line of 512 with CRLF", x510 + "\r\n", {"L:" + x510}},
      {"line of 513 with CRLF", x511 + "\r\nNOOP\r\n", {"TooLong", "L:NOOP"}},
      {"too long then bare CR inside is just discarded", std::string(600, 'y') + "\r\r\nNOOP\r\n",
       {"TooLong", "L:NOOP"}},
      {"too long ended by bare LF", std::string(600, 'y') + "\nNOOP\r\n", {"TooLong", "L:NOOP"}},
      {"AUTH line may be long", "AUTH PLAIN " + std::string(5000, 'Q') + "\r\n",
       {"L:AUTH PLAIN " + std::string(5000, 'Q')}},
      {"auth line lower case", "auth plain " + std::string(800, 'Q') + "\r\n",
       {"L:auth plain " + std::string(800, 'Q')}},
      {"AUTH line of 12288", "AUTH " + std::string(12281, 'Q') + "\r\n", {"L:AUTH " + std::string(12281, 'Q')}},
      {"AUTH line of 12289", "AUTH " + std::string(12282, 'Q') + "\r\nNOOP\r\n", {"TooLong", "L:NOOP"}},
      {"AUTHX is no AUTH", "AUTHX" + std::string(600, 'Q') + "\r\n", {"TooLong"}},
      {"continuation may be long", std::string(5000, 'Q') + "\r\n", {"L:" + std::string(5000, 'Q')}, true},
  };
}

TEST(LineReader, Table) {
  for (const Row& row : rows()) {
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{511}}) {
      LineReader reader;
      reader.set_auth_continuation(row.auth_continuation);
      EXPECT_EQ(events(reader, row.input, step), row.want) << row.name << " step " << step;
    }
  }
}

TEST(LineReader, EverySplitOfPipelinedLines) {
  const std::string input = "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n\r\nDATA\r\n";
  const std::vector<std::string> want = {"L:MAIL FROM:<a@b.c>", "L:RCPT TO:<d@e.f>", "L:", "L:DATA"};
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    LineReader reader;
    std::vector<std::string> got = events(reader, input.substr(0, cut), 0);
    std::vector<std::string> rest = events(reader, input.substr(cut), 0);
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(got, want) << "cut at " << cut;
  }
}

TEST(LineReader, MegabyteWithoutNewlineStaysBounded) {
  LineReader reader;
  const std::string chunk(64 * 1024, 'A');
  for (int i = 0; i < 16; ++i) {
    LineReader::Result r = reader.feed(chunk);
    EXPECT_EQ(r.event, LineReader::Event::NeedMore);
    EXPECT_EQ(r.consumed, chunk.size());
    EXPECT_LE(reader.buffered(), LineReader::kMaxCommandLine);
  }
  EXPECT_EQ(events(reader, "\r\nNOOP\r\n", 0), (std::vector<std::string>{"TooLong", "L:NOOP"}));
}

TEST(LineReader, ResetForgetsPartialLine) {
  LineReader reader;
  EXPECT_TRUE(events(reader, "MAIL FROM:<evil@", 0).empty());
  reader.reset();
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_EQ(events(reader, "EHLO x\r\n", 0), (std::vector<std::string>{"L:EHLO x"}));
}

}  // namespace
}  // namespace tern::smtp
