// Subcommands whose issue has not landed yet. Each prints one line and exits
// EX_UNAVAILABLE; an issue that builds one deletes its stub here.
#include <iostream>

#include "relay/cli.h"
#include "relay/exit_codes.h"

namespace tern::relay {
namespace {
int not_yet(const char* what) {
  std::cerr << "tern " << what << ": not implemented yet\n";
  return kExUnavailable;
}
}  // namespace

int run_serve(const CommonOptions&) { return not_yet("serve"); }

}  // namespace tern::relay
