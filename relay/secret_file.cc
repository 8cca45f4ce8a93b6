// Reading secrets from files. See secret_file.h.
#include "relay/secret_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace tern::relay {

std::string strip_one_newline(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

Result<std::string> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::permanent("cannot read " + path + ": " + std::strerror(errno));
  std::string secret;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    secret.append(buf, static_cast<std::size_t>(in.gcount()));
    if (secret.size() > kMaxSecretFile) return Error::permanent(path + " is too big for a secret");
  }
  if (in.bad()) return Error::permanent("cannot read " + path + ": " + std::strerror(errno));
  return strip_one_newline(std::move(secret));
}

}  // namespace tern::relay
