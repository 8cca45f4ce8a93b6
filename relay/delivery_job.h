#pragma once
// DeliveryJob: the recipients of one message that one worker delivers to one
// destination (a recipient domain, or the relayhost), with the message data
// shared (not copied) between the jobs of a message. The scheduler cuts
// jobs; workers carry them out and report one JobResult.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "queue/message_data.h"
#include "smtp/envelope.h"

namespace tern::relay {

class BounceCollector;

struct DeliveryJob {
  std::string message_id;
  std::string destination;                // routing key: lower-cased domain, or "relayhost"
  smtp::Envelope envelope;                // sender, MAIL params, and only this job's recipients
  std::vector<std::int64_t> recipient_ids;  // queue row ids, parallel to envelope.recipients
  std::vector<int> attempts;                // attempts so far, parallel to envelope.recipients
  std::shared_ptr<const queue::MessageData> data;  // the message (head + body); shared by the jobs of one message
  std::chrono::system_clock::time_point received_at;
  // Shared by the jobs of a message cut into several (nullptr when it is one
  // job): its bounces are recorded together, with one DSN.
  std::shared_ptr<BounceCollector> bounces;

  // Progress of this attempt through the destination's hosts (worker-private).
  std::size_t host_index = 0;   // next MX host address to try
  bool no_tls = false;          // STARTTLS failed on this host: retry it in plaintext (opportunistic only)
  std::string last_error;       // the last site-level failure, for the record if no host takes it
};

}  // namespace tern::relay
