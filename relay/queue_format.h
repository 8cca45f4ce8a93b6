#pragma once
// Text helpers for the queue and user commands: RFC 3339 times, short ages
// ("2h13m"), byte sizes, and terminal-safe text (peer replies and headers may
// carry control characters; they are never printed raw). Pure functions.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/command.h"

namespace tern::relay {

// "2024-01-01T00:00:00Z" (UTC, whole seconds).
std::string rfc3339(std::chrono::system_clock::time_point t);

// A duration in at most two units: "0s", "45s", "3m20s", "2h13m", "5d4h".
// Negative durations are shown as "0s".
std::string short_duration(std::chrono::system_clock::duration d);

// "512 B", "4.0 KiB", "25.0 MiB".
std::string human_size(std::int64_t bytes);

// Control characters (and DEL) become "\xNN"; CR LF becomes " / " (multi-line
// replies); tabs are kept.
std::string printable(std::string_view text);

// "SIZE=4096 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x AUTH=<a@b>" (only those given).
std::string describe(const smtp::MailParams& params);
// "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b" (only those given).
std::string describe(const smtp::RcptParams& params);

}  // namespace tern::relay
