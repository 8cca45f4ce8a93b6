#pragma once
// Submission passwords as Argon2id hashes (libargon2, PHC string format
// "$argon2id$v=19$m=32768,t=2,p=1$salt$hash"). hash_password() draws a random
// salt; verify_password() accepts any argon2id string, so stored hashes keep
// working when the parameters below change. No password is ever logged or
// kept beyond the call. Both are thread-safe (no shared state) and CPU-heavy
// (~40 ms, 32 MiB each): call them off the event loops, and bound how many run
// at once.

#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/result.h"

namespace tern::relay {

// t=2 passes over m=32 MiB, one lane: 37-39 ms to hash or verify on the
// 2-core development machine (t=2/19 MiB: 17-20 ms; t=2/64 MiB: 83-85 ms).
// Above OWASP's floor for Argon2id (19 MiB, t=2) while keeping a burst of
// logins from pinning the cores.
inline constexpr std::uint32_t kArgon2TimeCost = 2;
inline constexpr std::uint32_t kArgon2MemoryKiB = 32 * 1024;
inline constexpr std::uint32_t kArgon2Lanes = 1;

// The encoded hash of password with a fresh 16-byte salt from the OS.
Result<std::string> hash_password(std::string_view password);

// True when password matches the encoded argon2id hash; false on mismatch and
// on a malformed hash (never throws).
bool verify_password(std::string_view encoded, std::string_view password);

}  // namespace tern::relay
