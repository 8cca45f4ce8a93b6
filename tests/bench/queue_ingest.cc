// Durable ingest throughput of the queue writer: N threads, each acting like
// an SMTP session that waits for its "250" (the enqueue callback, after the
// fsync) before submitting the next 4 KiB message. Reports messages/s
// (items_per_second). Run Release: build-rel/bench/queue_ingest. The spool is a
// fresh directory under $TMPDIR (or /tmp), removed afterwards.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <ctime>
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "queue/queue_id.h"
#include "queue/writer.h"

namespace {

using tern::queue::NewMessage;
using tern::queue::Writer;

std::unique_ptr<Writer> g_writer;
std::string g_dir;
std::clock_t g_cpu_start;

NewMessage make_4k_message() {
  NewMessage m;
  m.id = tern::queue::make_queue_id();
  m.envelope.sender = tern::smtp::Path{tern::smtp::Mailbox{"app", "example.com"}};
  m.envelope.recipients.push_back({tern::smtp::Mailbox{"user", "example.org"}, {}});
  m.auth_user = "app";
  m.client_address = "127.0.0.1";
  m.data = "Received: from app (127.0.0.1) by relay; Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: bench\r\n\r\n";
  while (m.data.size() < 4096 - 78) m.data += std::string(76, 'x') + "\r\n";
  m.data.resize(4096 - 2);
  m.data += "\r\n";
  m.received_at = std::chrono::system_clock::now();
  return m;
}

void BM_DurableEnqueue(benchmark::State& state) {
  if (state.thread_index() == 0) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tern-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      state.SkipWithError("mkdtemp failed");
      return;
    }
    g_dir = tmpl;
    auto w = Writer::start(g_dir + "/spool", Writer::Options{.max_batch = static_cast<std::size_t>(state.range(0))});
    if (!w) {
      state.SkipWithError(w.error().message().c_str());
      return;
    }
    g_writer = std::move(*w);
    g_cpu_start = std::clock();
  }
  for (auto _ : state) {
    std::promise<bool> done;
    auto future = done.get_future();
    g_writer->enqueue(make_4k_message(), [&done](tern::Status s, NewMessage&&) { done.set_value(s.has_value()); });
    if (!future.get()) state.SkipWithError("enqueue failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    Writer::Stats stats = g_writer->stats();
    g_writer.reset();
    // Process CPU (all threads: the writer, and the sessions building 4 KiB
    // messages and waiting) per stored message.
    double cpu_us = 1e6 * static_cast<double>(std::clock() - g_cpu_start) / CLOCKS_PER_SEC;
    state.counters["cpu_us_per_msg"] = stats.messages ? cpu_us / static_cast<double>(stats.messages) : 0;
    state.counters["msgs_per_commit"] =
        stats.transactions ? static_cast<double>(stats.messages) / static_cast<double>(stats.transactions) : 0;
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
  }
}

// Argument: max_batch.
BENCHMARK(BM_DurableEnqueue)->Arg(512)->Threads(1)->Threads(8)->Threads(32)->Threads(64)->UseRealTime()->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();
