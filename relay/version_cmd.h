#pragma once
// `tern version`: prints tern's version and those of libuv, OpenSSL, SQLite, c-ares.

namespace tern::relay {
int run_version();
}
