#include "smtp/data_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::smtp {
namespace {

using Framing = DataReader::Framing;
using Status = DataReader::Status;
using Verdict = DataReader::Verdict;

struct Outcome {
  Status status = Status::NeedMore;
  std::size_t consumed = 0;  // of the whole input
  std::size_t lines = 0;
  Verdict verdict = Verdict::Ok;
  std::string body;
  bool message_id = false;
  bool date = false;
};

// Feeds the input in pieces of `step` bytes (0: whole); after Complete or the
// last piece (Chunked), finishes.
Outcome run(Framing framing, std::string_view input, std::size_t step, std::uint64_t max_size = 1 << 20) {
  DataReader r;
  r.start(framing, max_size);
  Outcome o;
  std::size_t pos = 0;
  while (pos < input.size() && o.status == Status::NeedMore) {
    const std::size_t n = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    DataReader::Progress p = r.feed(input.substr(pos, n));
    EXPECT_LE(p.consumed, n);
    if (p.status == Status::NeedMore) {
      EXPECT_EQ(p.consumed, n);
    }
    o.status = p.status;
    o.lines += p.lines;
    pos += p.consumed;
    o.consumed = pos;
  }
  if (o.status == Status::Complete || (framing == Framing::Chunked && o.status == Status::NeedMore)) {
    o.verdict = r.finish();
  }
  o.message_id = r.has_message_id();
  o.date = r.has_date();
  o.body = r.take_body();
  return o;
}

struct Row {
  const char* name;
  Framing framing;
  std::string input;
  Status status;
  std::string body;            // when the verdict is Ok
  Verdict verdict = Verdict::Ok;
  std::size_t consumed = std::string::npos;  // npos: all of it
  std::uint64_t max_size = 1 << 20;
};

std::vector<Row> rows() {
  const Framing D = Framing::DotTerminated;
  const Framing C = Framing::Chunked;
  return {
      {"empty message", D, ".\r\n", Status::Complete, ""},
      {"one line", D, "a\r\n.\r\n", Status::Complete, "a\r\n"},
      {"dot-unstuffing", D, "..a\r\n.b\r\n..\r\n.\r\n", Status::Complete, ".a\r\nb\r\n.\r\n"},
      {"empty lines kept", D, "a\r\n\r\n\r\nb\r\n.\r\n", Status::Complete, "a\r\n\r\n\r\nb\r\n"},
      {"bytes after the end are not consumed", D, "a\r\n.\r\nMAIL FROM:<x@y>\r\n", Status::Complete, "a\r\n",
       Verdict::Ok, 6},
      {"dot inside a line is text", D, "a.b\r\n a.\r\n.\r\n", Status::Complete, "a.b\r\n a.\r\n"},
      {"8-bit text", D, "caf\xc3\xa9\r\n.\r\n", Status::Complete, "caf\xc3\xa9\r\n"},
      {"bare LF in text", D, "a\nb\r\n.\r\n", Status::BareLf, ""},
      {"LF.LF", D, "a\r\nb\n.\n", Status::BareLf, ""},
      {"CR.CR LF", D, "a\r.\r\n", Status::BareCr, ""},
      {"CRLF.LF", D, "a\r\n.\nMAIL", Status::BareLf, ""},
      {"CRLF.CR then text", D, "a\r\n.\rMAIL", Status::BareCr, ""},
      {"bare LF as the first byte", D, "\n", Status::BareLf, ""},
      {"dot LF at the start", D, ".\n", Status::BareLf, ""},
      {"line of 1000 octets", D, std::string(998, 'x') + "\r\n.\r\n", Status::Complete, std::string(998, 'x') + "\r\n"},
      {"line of 1001 octets", D, std::string(999, 'x') + "\r\n.\r\n", Status::Complete, "", Verdict::LineTooLong},
      {"stuffed line of 1000 on the wire", D, "." + std::string(997, '.') + "\r\n.\r\n", Status::Complete,
       std::string(997, '.') + "\r\n"},
      {"stuffed line of 1001 on the wire", D, "." + std::string(998, '.') + "\r\n.\r\n", Status::Complete, "",
       Verdict::LineTooLong},
      {"at the size limit", D, "12345678\r\n.\r\n", Status::Complete, "12345678\r\n", Verdict::Ok,
       std::string::npos, 10},
      {"over the size limit", D, "123456789\r\n.\r\n", Status::Complete, "", Verdict::TooBig, std::string::npos, 10},
      {"size before line length", D, std::string(2000, 'x') + "\r\n.\r\n", Status::Complete, "", Verdict::TooBig,
       std::string::npos, 100},
      {"NUL in text", D, std::string("a\0b\r\n.\r\n", 8), Status::Complete, "", Verdict::NulCharacter},
      {"NUL before a dot is no end", D, std::string("a\r\n\0.\r\nMAIL\r\n.\r\n", 16), Status::Complete, "",
       Verdict::NulCharacter},
      {"chunk", C, "abc\r\ndef\r\n", Status::NeedMore, "abc\r\ndef\r\n"},
      {"chunk keeps dots", C, ".\r\n..x\r\n", Status::NeedMore, ".\r\n..x\r\n"},
      {"chunk without final CRLF gets one", C, "abc\r\nd", Status::NeedMore, "abc\r\nd\r\n"},
      {"chunk ending in CR", C, "abc\r", Status::NeedMore, "", Verdict::BareCr},
      {"chunk with bare LF", C, "a\nb", Status::BareLf, ""},
      {"empty chunk", C, "", Status::NeedMore, ""},
  };
}

TEST(DataReader, Table) {
  for (const Row& row : rows()) {
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
      Outcome o = run(row.framing, row.input, step, row.max_size);
      SCOPED_TRACE(std::string(row.name) + " step " + std::to_string(step));
      EXPECT_EQ(o.status, row.status);
      EXPECT_EQ(o.verdict, row.verdict);
      EXPECT_EQ(o.body, row.body);
      if (row.status != Status::BareLf && row.status != Status::BareCr) {  // the session closes: no more reading
        EXPECT_EQ(o.consumed, row.consumed == std::string::npos ? row.input.size() : row.consumed);
      }
    }
  }
}

TEST(DataReader, EverySplitGivesTheSameMessage) {
  const std::string input = "Subject: x\r\n\r\n..dot\r\nline\r\n\r\n.\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    DataReader r;
    r.start(Framing::DotTerminated, 1000);
    DataReader::Progress a = r.feed(std::string_view(input).substr(0, cut));
    std::size_t consumed = a.consumed;
    if (a.status == Status::NeedMore) consumed += r.feed(std::string_view(input).substr(cut)).consumed;
    EXPECT_EQ(consumed, input.size()) << cut;
    EXPECT_EQ(r.finish(), Verdict::Ok) << cut;
    EXPECT_EQ(r.take_body(), "Subject: x\r\n\r\n.dot\r\nline\r\n\r\n") << cut;
  }
}

TEST(DataReader, CountsLinesForTheTimer) {
  DataReader r;
  r.start(Framing::DotTerminated, 1000);
  EXPECT_EQ(r.feed("a\r\nb").lines, 1u);
  EXPECT_EQ(r.feed("b\r").lines, 0u);
  EXPECT_EQ(r.feed("\nc\r\n").lines, 2u);
}

TEST(DataReader, ChunksJoinAcrossCrLf) {
  DataReader r;
  r.start(Framing::Chunked, 1000);
  EXPECT_EQ(r.feed("a\r").status, Status::NeedMore);
  EXPECT_EQ(r.feed("\nb\r\n").status, Status::NeedMore);
  EXPECT_EQ(r.finish(), Verdict::Ok);
  EXPECT_EQ(r.take_body(), "a\r\nb\r\n");
}

TEST(DataReader, ReservesFromSize) {
  DataReader r;
  r.start(Framing::DotTerminated, 1 << 20, 100000);
  r.feed("a\r\n.\r\n");
  EXPECT_EQ(r.finish(), Verdict::Ok);
  EXPECT_GE(r.take_body().capacity(), 100000u);
}

TEST(DataReader, OversizeStopsStoring) {
  DataReader r;
  r.start(Framing::Chunked, 100);
  for (int i = 0; i < 1000; ++i) r.feed("0123456789\r\n");
  EXPECT_EQ(r.size(), 12000u);
  EXPECT_EQ(r.finish(), Verdict::TooBig);
  EXPECT_TRUE(r.take_body().empty());
}

struct HeaderRow {
  const char* name;
  std::string text;
  bool message_id;
  bool date;
};

TEST(DataReader, HeaderFields) {
  const std::vector<HeaderRow> rows = {
      {"both", "Message-ID: <1@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n", true, true},
      {"case-insensitive", "message-id: <1@x>\r\nDATE: x\r\n\r\n", true, true},
      {"obsolete space before colon", "Date : x\r\n\r\n", false, true},
      {"none", "Subject: hi\r\n\r\n", false, false},
      {"continuation line is no field", "Subject: hi\r\n Date: x\r\n\tMessage-ID: <y>\r\n\r\n", false, false},
      {"in the body", "Subject: hi\r\n\r\nDate: x\r\nMessage-ID: <y>\r\n", false, false},
      {"after a line that is no field", "hello world\r\nDate: x\r\n", false, false},
      {"longer names", "X-Date: x\r\nMessage-IDs: y\r\nDated: z\r\n\r\n", false, false},
      {"no headers at all", "\r\nDate: x\r\n", false, false},
      {"dot-stuffed field", "..Date: x\r\n", false, false},
      {"last field without body", "Subject: a\r\nMessage-Id:<z@q>\r\n", true, false},
  };
  for (const HeaderRow& row : rows) {
    for (std::size_t step : {std::size_t{0}, std::size_t{1}}) {
      Outcome o = run(Framing::DotTerminated, row.text + ".\r\n", step);
      EXPECT_EQ(o.status, Status::Complete) << row.name;
      EXPECT_EQ(o.message_id, row.message_id) << row.name << " step " << step;
      EXPECT_EQ(o.date, row.date) << row.name << " step " << step;
    }
  }
}

}  // namespace
}  // namespace tern::smtp
