// Defaults of `tern sendmail` from the config and the process. See sendmail_defaults.h.
#include "relay/sendmail_defaults.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace tern::relay {

std::optional<HostPort> local_submission_address(const std::vector<HostPort>& listen) {
  if (listen.empty()) return std::nullopt;
  HostPort out = listen.front();
  if (out.host == "0.0.0.0") out.host = "127.0.0.1";
  if (out.host == "::" || out.host == "0:0:0:0:0:0:0:0") out.host = "::1";
  return out;
}

SendmailDefaults sendmail_defaults(const Config& config) {
  SendmailDefaults out;
  out.hostname = config.hostname;
  out.server = local_submission_address(config.submission.listen);
  out.max_message_bytes = config.submission.max_message_size;
  return out;
}

std::optional<std::string> login_name() {
  for (const char* var : {"LOGNAME", "USER"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0') return std::string(value);
  }
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::string buffer(size > 0 ? static_cast<std::size_t>(size) : 16384, '\0');
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr && *found->pw_name != '\0') {
    return std::string(found->pw_name);
  }
  return std::nullopt;
}

}  // namespace tern::relay
