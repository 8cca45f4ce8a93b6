// `tern queue ...` and `tern user ...`: find the spool from the same config
// (--config and TERN_* variables) as the daemon, then run the command on it.
#include <iostream>

#include "relay/cli.h"
#include "relay/config.h"
#include "relay/exit_codes.h"
#include "relay/queue_cmd.h"
#include "relay/user_cmd.h"

namespace tern::relay {

int run_queue(const CommonOptions& common, const QueueOptions& opts) {
  auto config = load_config_for(common);
  if (!config) {
    std::cerr << "tern queue: " << config.error().message() << "\n";
    return kExConfig;
  }
  return queue_command(config->spool, opts);
}

int run_user(const CommonOptions& common, const UserOptions& opts) {
  auto config = load_config_for(common);
  if (!config) {
    std::cerr << "tern user: " << config.error().message() << "\n";
    return kExConfig;
  }
  return user_command(config->spool, opts);
}

}  // namespace tern::relay
