// Placeholder target so the fuzz build has something to link until the
// parsers land; replaced by fuzz_command, fuzz_server_session, fuzz_reply and
// fuzz_received.
#include <cstddef>
#include <cstdint>
#include <string>

#include "smtp/result.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tern::Result<std::string> r = size % 2 ? tern::Result<std::string>(std::string(reinterpret_cast<const char*>(data), size))
                                         : tern::Result<std::string>(tern::Error::transient("even"));
  if (r && r->size() != size) __builtin_trap();
  return 0;
}
