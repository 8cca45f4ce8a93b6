#include "relay/password.h"

#include <argon2.h>
#include <openssl/rand.h>

#include <array>
#include <string>

namespace tern::relay {

Result<std::string> hash_password(std::string_view password) {
  std::array<unsigned char, 16> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return Error::transient("cannot draw a random salt (OpenSSL RAND_bytes failed)");
  }
  constexpr std::size_t kHashLength = 32;
  std::size_t encoded_length = argon2_encodedlen(kArgon2TimeCost, kArgon2MemoryKiB, kArgon2Lanes,
                                                 static_cast<std::uint32_t>(salt.size()), kHashLength, Argon2_id);
  std::string encoded(encoded_length, '\0');
  int rc = argon2id_hash_encoded(kArgon2TimeCost, kArgon2MemoryKiB, kArgon2Lanes, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashLength, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Error::transient(std::string("argon2id: ") + argon2_error_message(rc));
  if (auto nul = encoded.find('\0'); nul != std::string::npos) encoded.resize(nul);  // the length counted the NUL
  return encoded;
}

bool verify_password(std::string_view encoded, std::string_view password) {
  std::string terminated(encoded);  // argon2id_verify wants a C string
  if (terminated.find('\0') != std::string::npos) return false;
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace tern::relay
