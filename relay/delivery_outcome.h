#pragma once
// From a finished delivery attempt to what the queue records: per recipient,
// the failure policy's verdict (delivered / deferred with its next attempt /
// bounced), the log line, the metrics, and the failed recipients for the
// message's one RFC 3464 DSN. A message cut into several jobs (one per
// domain) shares a BounceCollector between them, so its DSN lists every
// bounced recipient of the attempt however many jobs it took. Pure apart from
// the log and the metrics it is given; the time and randomness come in as
// arguments.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "queue/message.h"
#include "relay/delivery_job.h"
#include "relay/dsn.h"
#include "smtp/client_session.h"

namespace tern::metrics {
class Metrics;
}

namespace tern::relay {

struct DeliverySettings;

struct RecipientOutcome {
  smtp::RecipientResult::Status status = smtp::RecipientResult::Status::Transient;
  std::optional<smtp::FailureScope> scope;  // as the attempt reported it
  bool last_host = true;                    // no other host left to try in this attempt
  std::string detail;                       // sentence for history and DSN
  std::optional<smtp::Reply> reply;         // the deciding server reply, if any
};

// One outcome per envelope recipient of a finished attempt.
std::vector<RecipientOutcome> outcomes_from(const smtp::client::Finished& finished, bool last_host);

// Splits a job after a site failure: the delivered recipients go to
// `record_delivered` as a job of their own (if any); the rest come back as a
// job to try on the next host (nullptr if none is left).
std::unique_ptr<DeliveryJob> split_delivered(
    DeliveryJob& job, const smtp::client::Finished& finished,
    const std::function<void(std::unique_ptr<DeliveryJob>, std::vector<RecipientOutcome>)>& record_delivered);

struct RecordBatch {
  std::vector<queue::AttemptRecord> attempts;
  std::vector<FailedRecipient> failed;  // the bounced ones, for the DSN
};

// Decides each recipient's fate, logs one line per recipient, and counts
// tern_deliveries_total and tern_delivery_duration_seconds.
RecordBatch build_record(const DeliveryJob& job, const std::vector<RecipientOutcome>& outcomes,
                         const std::string& host, bool tls, const DeliverySettings& settings, std::uint64_t random,
                         metrics::Metrics* metrics,
                         std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The DSN of `job`'s message for `failed`, as a message to enqueue (and logs
// it); nullopt when none is due: no failures, bounces off, a null sender, or
// NOTIFY asked for none.
std::optional<queue::NewMessage> make_dsn(const DeliveryJob& job, std::vector<FailedRecipient> failed,
                                          const DeliverySettings& settings,
                                          std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The bounced recipients of one message across its jobs, which may finish on
// different worker threads. Each job hands in its bounces when it finishes;
// the last one gets them all back, to record with one DSN in one write. Until
// then the bounced recipients stay pending in the queue: after a crash they
// are attempted (and bounced) again, never lost.
class BounceCollector {
 public:
  explicit BounceCollector(int jobs) : open_jobs_(jobs) {}
  BounceCollector(const BounceCollector&) = delete;
  BounceCollector& operator=(const BounceCollector&) = delete;

  // Any thread, once per job. Adds the job's bounced attempts and failed
  // recipients; returns true (and everything collected, in `attempts` and
  // `failed`) when this was the last job.
  bool finish_job(std::vector<queue::AttemptRecord>& attempts, std::vector<FailedRecipient>& failed);

 private:
  std::mutex mutex_;
  int open_jobs_;                                 // guarded by mutex_
  std::vector<queue::AttemptRecord> attempts_;    // guarded by mutex_
  std::vector<FailedRecipient> failed_;           // guarded by mutex_
};

// The RFC 3463 status for a recipient's DSN: the reply's enhanced code, else
// one found in the detail text ("5.1.10 ..."), else X.0.0 from the class.
std::string dsn_status(const RecipientOutcome& outcome);

}  // namespace tern::relay
