#pragma once
// The defaults `tern sendmail` takes from tern's configuration: its host name
// (EHLO name, domain of the default sender and of unqualified addresses), the
// server to submit to (the local tern: the first submission.listen address,
// with a wildcard bind address replaced by loopback), and the size limit.
// Pure: the caller loads the Config (load_config_for) and maps errors.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/config.h"
#include "relay/host_port.h"

namespace tern::relay {

struct SendmailDefaults {
  std::string hostname;                          // config `hostname`
  std::optional<HostPort> server;                // nullopt: no submission.listen, --server is needed
  std::uint64_t max_message_bytes = 26'214'400;  // submission.max_message_size
};

// "0.0.0.0:587" -> 127.0.0.1:587, "[::]:587" -> [::1]:587, others unchanged;
// nullopt when the list is empty.
std::optional<HostPort> local_submission_address(const std::vector<HostPort>& listen);

SendmailDefaults sendmail_defaults(const Config& config);

// Who runs us, for the default sender: $LOGNAME, else $USER, else the
// password entry of the real uid; nullopt when none of them gives a name.
std::optional<std::string> login_name();

}  // namespace tern::relay
