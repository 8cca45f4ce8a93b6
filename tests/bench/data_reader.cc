// DataReader (smtp/data_reader.h) scanning DATA: a message of N bytes (76
// octet lines, headers first, one line in 20 starting with a dot and so sent
// stuffed as ".."), fed whole and in 16 KiB reads (a socket's pace), up to
// the terminating CRLF.CRLF, then finish() and take_body(). Reports bytes/s of
// wire input.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "smtp/data_reader.h"

namespace {

using tern::smtp::DataReader;

// The wire form of a message body of about `size` bytes, dot-stuffed and terminated.
std::string wire_message(std::size_t size) {
  std::string m =
      "From: App <app@service.example.com>\r\n"
      "To: Bob <bob@example.org>\r\n"
      "Subject: Your weekly report\r\n"
      "Message-ID: <20260101000000.12345@service.example.com>\r\n"
      "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n";
  const std::string line(74, 'x');
  for (std::size_t i = 0; m.size() < size; ++i) {
    if (i % 20 == 0) m += "..";  // a body line starting with "." goes out stuffed
    m += line;
    m += "\r\n";
  }
  m += ".\r\n";
  return m;
}

void BM_DataScan(benchmark::State& state) {
  const std::string wire = wire_message(static_cast<std::size_t>(state.range(0)));
  const std::size_t read_size = state.range(1) == 0 ? wire.size() : static_cast<std::size_t>(state.range(1));
  DataReader reader;
  for (auto _ : state) {
    reader.start(DataReader::Framing::DotTerminated, 64 * 1024 * 1024);
    std::string_view rest = wire;
    DataReader::Progress p;
    while (!rest.empty()) {
      p = reader.feed(rest.substr(0, std::min(read_size, rest.size())));
      rest.remove_prefix(p.consumed);
      if (p.status != DataReader::Status::NeedMore) break;
    }
    if (p.status != DataReader::Status::Complete || reader.finish() != DataReader::Verdict::Ok) {
      state.SkipWithError("message not accepted");
      break;
    }
    std::string body = reader.take_body();
    benchmark::DoNotOptimize(body);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(wire.size()));
}

// {message bytes, read size (0: the whole message in one feed)}
BENCHMARK(BM_DataScan)->Args({4 * 1024, 0})->Args({100 * 1024, 0})->Args({100 * 1024, 16 * 1024})
    ->Args({10 * 1024 * 1024, 64 * 1024});

}  // namespace

BENCHMARK_MAIN();
