// `tern check-config [--config FILE] [--json]`: load and validate the config
// as `tern serve` would, print the effective config (TOML or JSON) on stdout
// and exit 0; or print each problem as "tern: ..." on stderr and exit 1
// (INTERFACE.md says 1, not EX_CONFIG, for scripts that test `if tern check-config`).
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>

#include "relay/cli.h"
#include "relay/config.h"
#include "relay/exit_codes.h"

namespace tern::relay {
namespace {
constexpr int kConfigInvalid = 1;
}  // namespace

int run_check_config(const CommonOptions& common, const CheckConfigOptions& opts) {
  Result<Config> config = load_config_for(common);
  if (!config) {
    const std::string& message = config.error().message();
    std::size_t start = 0;
    while (start <= message.size()) {
      std::size_t end = message.find('\n', start);
      if (end == std::string::npos) end = message.size();
      std::cerr << "tern: " << message.substr(start, end - start) << "\n";
      start = end + 1;
    }
    return kConfigInvalid;
  }
  if (opts.json) {
    std::cout << to_json(*config).dump(2) << "\n";
  } else {
    std::cout << to_toml(*config);
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "tern: cannot write the configuration to stdout\n";
    return kExIoErr;
  }
  return kExOk;
}

}  // namespace tern::relay
