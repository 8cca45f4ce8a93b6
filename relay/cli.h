#pragma once
// The subcommands of `tern` (INTERFACE.md), as option structs and the functions
// that run them. main.cc parses the command line with CLI11 into these structs;
// each run_* returns a sysexits code. Each lives in its own *_cmd.cc.

#include <optional>
#include <string>
#include <vector>

namespace tern::relay {

struct CommonOptions {
  std::optional<std::string> config_path;  // --config FILE; unset: /etc/tern/tern.toml when it exists
};

struct QueueOptions {
  std::string action;      // list | summary | show | retry | hold | release | delete
  std::string id;          // for show/retry/hold/release/delete
  bool all = false;        // retry --all
  bool json = false;       // list/summary --json
};

struct UserOptions {
  std::string action;      // add | delete | list
  std::string name;
  std::optional<std::string> password_file;  // else stdin
};

struct TraceOptions {
  std::optional<std::string> file;  // else stdin
  bool json = false;
  bool dot = false;
};

struct CheckConfigOptions {
  bool json = false;
};

int run_serve(const CommonOptions& common);
int run_queue(const CommonOptions& common, const QueueOptions& opts);
int run_user(const CommonOptions& common, const UserOptions& opts);
int run_trace(const CommonOptions& common, const TraceOptions& opts);
int run_check_config(const CommonOptions& common, const CheckConfigOptions& opts);
// sendmail(8) has its own argument conventions (-t -i -oi -f FROM -F NAME ...),
// so it parses its own argv: the arguments after "sendmail".
int run_sendmail(const std::vector<std::string>& args);

}  // namespace tern::relay
