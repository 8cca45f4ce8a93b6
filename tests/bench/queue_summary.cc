// Queue reads at a million queued recipients: `queue summary`, the gauges'
// counts(), the scheduler's due() and next_due(), and a full `queue list`
// walk. The spool (500,000 messages x 2 recipients over 2,000 domains, half of
// the recipients deferred with one of 20 errors, 1% held) is built on first
// use in --spool=DIR (default $TMPDIR/tern-bench-million) and reused by later
// runs; delete the directory to rebuild. Run Release.
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>
#include <string>

#include "queue/admin.h"
#include "queue/queue_id.h"
#include "queue/reader.h"
#include "queue/writer.h"

namespace {

using namespace tern::queue;

std::string g_spool;
constexpr int kMessages = 500000;

class Outstanding {  // bounds the work in flight while building
 public:
  void add() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return n_ < 20000; });
    ++n_;
  }
  void done(bool ok) {
    std::lock_guard lock(mu_);
    --n_;
    if (!ok) ++failed_;
    cv_.notify_all();
  }
  int drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return n_ == 0; });
    return failed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
  int failed_ = 0;
};

bool build_spool(const std::string& spool) {
  std::cerr << "building a 1,000,000-recipient spool in " << spool << " ...\n";
  auto start = std::chrono::steady_clock::now();
  auto w = Writer::start(spool, Writer::Options{.max_batch = 2000});
  if (!w) {
    std::cerr << w.error().message() << "\n";
    return false;
  }
  Writer& writer = **w;
  std::mt19937 random(42);
  // Zipf-ish: domain k gets weight 1/(k+1).
  std::vector<double> weights;
  for (int k = 0; k < 2000; ++k) weights.push_back(1.0 / (k + 1));
  std::discrete_distribution<int> domain(weights.begin(), weights.end());
  const std::string body = "Subject: bench\r\n\r\n" + std::string(1000, 'x') + "\r\n";
  auto base = std::chrono::system_clock::now() - std::chrono::hours(48);
  Outstanding outstanding;
  std::vector<std::string> ids;
  ids.reserve(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    NewMessage m;
    m.id = make_queue_id();
    m.envelope.sender = tern::smtp::Path{tern::smtp::Mailbox{"app", "example.com"}};
    for (int r = 0; r < 2; ++r) {
      m.envelope.recipients.push_back(
          {tern::smtp::Mailbox{"user" + std::to_string(i), "d" + std::to_string(domain(random)) + ".example"}, {}});
    }
    m.data = body;
    m.received_at = base + std::chrono::milliseconds(i * 300);
    ids.push_back(m.id);
    outstanding.add();
    writer.enqueue(std::move(m), [&](tern::Status s, NewMessage&&) { outstanding.done(s.has_value()); });
  }
  if (outstanding.drain() != 0) return false;
  // Defer the first recipient of every message, with one of 20 errors, in
  // records of 1,000 outcomes (recipient ids are 2i+1 on a fresh spool).
  std::vector<AttemptRecord> batch;
  for (int i = 0; i < kMessages; ++i) {
    AttemptRecord a;
    a.message_id = ids[i];
    a.recipient_id = 2 * static_cast<std::int64_t>(i) + 1;
    a.outcome = AttemptRecord::Outcome::Deferred;
    a.reply = "451 4.7." + std::to_string(i % 20) + " try again later";
    a.host = "mx.d.example[192.0.2.1]";
    a.attempted_at = base + std::chrono::hours(1);
    a.next_attempt = base + std::chrono::hours(72 + i % 24);
    batch.push_back(std::move(a));
    if (batch.size() == 1000 || i + 1 == kMessages) {
      outstanding.add();
      writer.record(std::move(batch), {}, [&](tern::Status s) { outstanding.done(s.has_value()); });
      batch.clear();
    }
  }
  if (outstanding.drain() != 0) return false;
  writer.stop();
  auto admin = Admin::open(spool);
  if (!admin) return false;
  for (int i = 0; i < kMessages; i += 100) {
    if (!(*admin)->hold(ids[i])) return false;
  }
  std::cerr << "built in "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count()
            << " s\n";
  return true;
}

std::unique_ptr<Reader> open_reader(benchmark::State& state) {
  auto r = Reader::open(g_spool);
  if (!r) {
    state.SkipWithError(r.error().message().c_str());
    return nullptr;
  }
  return std::move(*r);
}

void BM_Summary(benchmark::State& state) {
  auto reader = open_reader(state);
  if (!reader) return;
  for (auto _ : state) {
    auto s = reader->summary(10, 10);
    if (!s) state.SkipWithError(s.error().message().c_str());
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_Summary)->Unit(benchmark::kMillisecond);

void BM_Counts(benchmark::State& state) {
  auto reader = open_reader(state);
  if (!reader) return;
  for (auto _ : state) {
    auto c = reader->counts();
    if (!c) state.SkipWithError(c.error().message().c_str());
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_Counts)->Unit(benchmark::kMicrosecond);

void BM_Due100(benchmark::State& state) {
  auto reader = open_reader(state);
  if (!reader) return;
  auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    auto jobs = reader->due(now, 100, {});
    if (!jobs) state.SkipWithError(jobs.error().message().c_str());
    benchmark::DoNotOptimize(jobs);
  }
}
BENCHMARK(BM_Due100)->Unit(benchmark::kMicrosecond);

void BM_NextDue(benchmark::State& state) {
  auto reader = open_reader(state);
  if (!reader) return;
  for (auto _ : state) {
    auto next = reader->next_due({});
    if (!next) state.SkipWithError(next.error().message().c_str());
    benchmark::DoNotOptimize(next);
  }
}
BENCHMARK(BM_NextDue)->Unit(benchmark::kMicrosecond);

void BM_ListAll(benchmark::State& state) {
  auto reader = open_reader(state);
  if (!reader) return;
  for (auto _ : state) {
    std::size_t n = 0;
    auto s = reader->list([&](const MessageInfo& m) { n += m.recipients.size(); });
    if (!s) state.SkipWithError(s.error().message().c_str());
    state.counters["recipients"] = static_cast<double>(n);
  }
}
BENCHMARK(BM_ListAll)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  g_spool = (std::filesystem::temp_directory_path() / "tern-bench-million").string();
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--spool=", 8) == 0) g_spool = argv[i] + 8;
  }
  if (!std::filesystem::exists(g_spool + "/queue.db") && !build_spool(g_spool)) {
    std::cerr << "could not build the spool\n";
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
