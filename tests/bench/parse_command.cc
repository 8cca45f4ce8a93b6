// parse_command (smtp/command.h) on the lines a submission server reads per
// message: EHLO, MAIL FROM with parameters, RCPT TO (plain, with DSN
// parameters, quoted local part), DATA, QUIT. Reports lines/s and bytes/s.
#include <benchmark/benchmark.h>

#include <array>
#include <string_view>
#include <variant>

#include "smtp/command.h"

namespace {

using tern::smtp::parse_command;

constexpr std::array<std::string_view, 7> kLines = {
    "EHLO app-7.internal.example.com",
    "MAIL FROM:<notifications@service.example.com> SIZE=4096 BODY=8BITMIME",
    "RCPT TO:<alice@example.org>",
    "RCPT TO:<bob.smith@mail.example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob.smith@mail.example.net",
    "RCPT TO:<\"carol jones\"@example.org>",
    "DATA",
    "QUIT",
};

void run(benchmark::State& state, std::string_view line) {
  for (auto _ : state) {
    auto parsed = parse_command(line);
    benchmark::DoNotOptimize(parsed);
    if (!std::holds_alternative<tern::smtp::Command>(parsed)) state.SkipWithError("line refused");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * line.size()));
}

void BM_ParseEhlo(benchmark::State& state) { run(state, kLines[0]); }
void BM_ParseMailFromParams(benchmark::State& state) { run(state, kLines[1]); }
void BM_ParseRcptTo(benchmark::State& state) { run(state, kLines[2]); }
void BM_ParseRcptToDsn(benchmark::State& state) { run(state, kLines[3]); }
void BM_ParseRcptToQuoted(benchmark::State& state) { run(state, kLines[4]); }
void BM_ParseData(benchmark::State& state) { run(state, kLines[5]); }

// One message's worth of commands, as a session sees them.
void BM_ParseTransaction(benchmark::State& state) {
  std::size_t bytes = 0;
  for (std::string_view l : kLines) bytes += l.size();
  for (auto _ : state) {
    for (std::string_view l : kLines) {
      auto parsed = parse_command(l);
      benchmark::DoNotOptimize(parsed);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kLines.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

BENCHMARK(BM_ParseEhlo);
BENCHMARK(BM_ParseMailFromParams);
BENCHMARK(BM_ParseRcptTo);
BENCHMARK(BM_ParseRcptToDsn);
BENCHMARK(BM_ParseRcptToQuoted);
BENCHMARK(BM_ParseData);
BENCHMARK(BM_ParseTransaction);

}  // namespace

BENCHMARK_MAIN();
