#pragma once
// From a finished delivery attempt to what the queue records: per recipient,
// the failure policy's verdict (delivered / deferred with its next attempt /
// bounced), the log line, the metrics, and one RFC 3464 DSN for the bounced
// recipients of the job. Pure apart from the log and the metrics it is given;
// the time and randomness come in as arguments.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "queue/message.h"
#include "relay/delivery_job.h"
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
  std::vector<queue::NewMessage> dsns;  // at most one
};

// Decides each recipient's fate, logs one line per recipient, counts
// tern_deliveries_total and tern_delivery_duration_seconds, and builds the DSN.
RecordBatch build_record(const DeliveryJob& job, const std::vector<RecipientOutcome>& outcomes,
                         const std::string& host, bool tls, const DeliverySettings& settings, std::uint64_t random,
                         metrics::Metrics* metrics,
                         std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The RFC 3463 status for a recipient's DSN: the reply's enhanced code, else
// one found in the detail text ("5.1.10 ..."), else X.0.0 from the class.
std::string dsn_status(const RecipientOutcome& outcome);

}  // namespace tern::relay
