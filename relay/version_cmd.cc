// `tern version`: our version and the versions of the C libraries we run on.
#include "relay/version_cmd.h"

#include <ares.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <uv.h>

#include <iostream>

#include "relay/version.h"

namespace tern::relay {

int run_version() {
  std::cout << "tern " << kVersion << "\n"
            << "libuv " << uv_version_string() << "\n"
            << OpenSSL_version(OPENSSL_VERSION) << "\n"
            << "SQLite " << sqlite3_libversion() << "\n"
            << "c-ares " << ares_version(nullptr) << "\n";
  return 0;
}

}  // namespace tern::relay
