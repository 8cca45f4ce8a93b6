#pragma once
// The streams and clock a CLI subcommand uses, passed in so that tests can
// feed stdin, capture stdout/stderr and fix "now". The real commands use
// CliIo::standard(): std::cin, std::cout, std::cerr and the system clock.
// The streams must outlive the call that uses them.

#include <chrono>
#include <iostream>

namespace tern::relay {

struct CliIo {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  std::chrono::system_clock::time_point now;

  static CliIo standard() { return CliIo{std::cin, std::cout, std::cerr, std::chrono::system_clock::now()}; }
};

}  // namespace tern::relay
