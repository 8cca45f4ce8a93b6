// ReplyParser (smtp/reply.h) on what a delivery client reads: a one-line
// "250 2.0.0" reply, a 10-line EHLO reply, and a pipelined burst (MAIL, RCPT
// x3, DATA) in one read; each fed whole and one byte at a time. Reports
// replies/s and bytes/s.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "smtp/reply.h"

namespace {

using tern::smtp::ReplyParser;

const std::string kOneLine = "250 2.0.0 Ok: queued as 4XkP2r1sZbz9sHq\r\n";
const std::string kEhlo =
    "250-mx1.example.org Hello relay.example.com [192.0.2.7]\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 52428800\r\n"
    "250-ETRN\r\n"
    "250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-DSN\r\n"
    "250-SMTPUTF8\r\n"
    "250 CHUNKING\r\n";
const std::string kPipelined =
    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 <c@example.org>: Recipient address rejected: "
    "Greylisted\r\n354 End data with <CR><LF>.<CR><LF>\r\n";

void run(benchmark::State& state, const std::string& wire, int replies) {
  const std::size_t step = state.range(0) == 0 ? wire.size() : static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    ReplyParser parser;
    int got = 0;
    for (std::size_t off = 0; off < wire.size(); off += step) {
      parser.feed(std::string_view(wire).substr(off, step));
      while (auto r = parser.next()) {
        if (!*r) {
          state.SkipWithError("parse error");
          return;
        }
        benchmark::DoNotOptimize(r);
        ++got;
      }
    }
    if (got != replies) {
      state.SkipWithError("wrong number of replies");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * replies);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

void BM_ReplyOneLine(benchmark::State& state) { run(state, kOneLine, 1); }
void BM_ReplyEhlo(benchmark::State& state) { run(state, kEhlo, 1); }
void BM_ReplyPipelined(benchmark::State& state) { run(state, kPipelined, 5); }

// Arg: bytes per feed (0: all at once).
BENCHMARK(BM_ReplyOneLine)->Arg(0)->Arg(1);
BENCHMARK(BM_ReplyEhlo)->Arg(0)->Arg(1);
BENCHMARK(BM_ReplyPipelined)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
