// tern: one binary, many subcommands (INTERFACE.md). main() parses the command
// line and hands over to run_*; exceptions from start-up (config, CLI) stop here
// and become sysexits codes. Invoked as `sendmail` (the image installs it as
// /usr/sbin/sendmail), it behaves as `tern sendmail`.
#include <CLI/CLI.hpp>

#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "relay/cli.h"
#include "relay/exit_codes.h"
#include "relay/version_cmd.h"

namespace {

using namespace tern::relay;

std::string basename_of(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int dispatch(int argc, char** argv) {
  if (argc >= 1 && basename_of(argv[0]) == "sendmail") {
    return run_sendmail(std::vector<std::string>(argv + 1, argv + argc));
  }
  // sendmail's flags (-t, -oi, -f) would confuse CLI11, so it takes its argv raw.
  if (argc >= 2 && std::strcmp(argv[1], "sendmail") == 0) {
    return run_sendmail(std::vector<std::string>(argv + 2, argv + argc));
  }

  CLI::App app{"tern: an outbound mail relay (smarthost)", "tern"};
  app.require_subcommand(1);
  CommonOptions common;
  auto add_config = [&common](CLI::App* sub) {
    sub->add_option("--config", common.config_path, "configuration file (default /etc/tern/tern.toml when it exists)");
  };

  auto* serve = app.add_subcommand("serve", "run the relay in the foreground");
  add_config(serve);

  QueueOptions queue;
  auto* q = app.add_subcommand("queue", "inspect and manage the queue");
  q->require_subcommand(1);
  add_config(q);
  auto* q_list = q->add_subcommand("list", "one line (or JSON object) per queued message");
  q_list->add_flag("--json", queue.json, "print a JSON array");
  auto* q_summary = q->add_subcommand("summary", "counts per state and domain, oldest age, top errors");
  q_summary->add_flag("--json", queue.json, "print JSON");
  auto* q_show = q->add_subcommand("show", "envelope, per-recipient status and history, headers");
  q_show->add_option("ID", queue.id, "queue id")->required();
  auto* q_retry = q->add_subcommand("retry", "make deferred messages due now");
  auto* retry_id = q_retry->add_option("ID", queue.id, "queue id");
  auto* retry_all = q_retry->add_flag("--all", queue.all, "every deferred message");
  retry_id->excludes(retry_all);
  q_retry->callback([&] {
    if (queue.id.empty() && !queue.all) throw CLI::ValidationError("queue retry", "give a queue id or --all");
  });
  for (const char* name : {"hold", "release", "delete"}) {
    auto* sub = q->add_subcommand(name, std::string(name) + " a message");
    sub->add_option("ID", queue.id, "queue id")->required();
  }
  for (auto* sub : q->get_subcommands([](CLI::App*) { return true; })) add_config(sub);

  UserOptions user;
  auto* u = app.add_subcommand("user", "manage submission accounts");
  u->require_subcommand(1);
  add_config(u);
  for (const char* name : {"add", "delete"}) {
    auto* sub = u->add_subcommand(name, std::string(name) + " an account");
    sub->add_option("NAME", user.name, "account name")->required();
    add_config(sub);
  }
  u->get_subcommand("add")->add_option("--password-file", user.password_file,
                                       "read the password from this file (default: stdin)");
  add_config(u->add_subcommand("list", "list accounts"));

  TraceOptions trace;
  auto* t = app.add_subcommand("trace", "print the Received: hop chain of a message");
  add_config(t);
  t->add_option("FILE", trace.file, "message file (default: stdin)");
  auto* t_json = t->add_flag("--json", trace.json, "print JSON");
  auto* t_dot = t->add_flag("--dot", trace.dot, "print Graphviz");
  t_json->excludes(t_dot);

  CheckConfigOptions check;
  auto* c = app.add_subcommand("check-config", "validate and print the effective config");
  add_config(c);
  c->add_flag("--json", check.json, "print JSON instead of TOML");

  auto* version = app.add_subcommand("version", "print versions");
  add_config(version);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExOk : kExUsage;
  }

  if (serve->parsed()) return run_serve(common);
  if (q->parsed()) {
    for (auto* sub : q->get_subcommands()) queue.action = sub->get_name();
    return run_queue(common, queue);
  }
  if (u->parsed()) {
    for (auto* sub : u->get_subcommands()) user.action = sub->get_name();
    return run_user(common, user);
  }
  if (t->parsed()) return run_trace(common, trace);
  if (c->parsed()) return run_check_config(common, check);
  if (version->parsed()) return run_version();
  return kExUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "tern: " << e.what() << "\n";
    return kExSoftware;
  }
}
