#pragma once
// Secrets from files (relayhost password, `--password-file`): the whole file,
// minus exactly one trailing newline (INTERFACE.md), never logged. A missing
// or unreadable file is a Permanent error naming the path.

#include <cstddef>
#include <string>

#include "smtp/result.h"

namespace tern::relay {

inline constexpr std::size_t kMaxSecretFile = 64 * 1024;  // a password file is small; anything bigger is a mistake

Result<std::string> read_secret_file(const std::string& path);
// The same rule for a password read from a stream's whole content.
std::string strip_one_newline(std::string text);

}  // namespace tern::relay
