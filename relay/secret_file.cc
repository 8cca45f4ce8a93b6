// Reading secrets from files. See secret_file.h.
#include "relay/secret_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tern::relay {

std::string strip_one_newline(std::string text) {
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
  }
  return text;
}

Result<std::string> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::permanent("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return Error::permanent("cannot read " + path + ": " + std::strerror(errno));
  return strip_one_newline(content.str());
}

}  // namespace tern::relay
