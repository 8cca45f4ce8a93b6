#pragma once
// Structured logs: one line per event on stderr, `key=value` pairs, led by the
// time, level and event (STYLE.md §11):
//   ts=2026-11-25T04:29:44.123Z level=info event=delivery msg=01J9Z3 rcpt=bob@example.org result=deferred
// Values with spaces, quotes or '=' are quoted. Lines are written whole (one
// write per line) so threads never interleave. Never log passwords or bodies.

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace tern::relay {

enum class LogLevel { Debug, Info, Warn, Error };

struct LogField {
  std::string_view key;
  std::string value;
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <class N, class = std::enable_if_t<std::is_arithmetic_v<N>>>
  LogField(std::string_view k, N n) : key(k), value(std::to_string(n)) {}
};

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

inline void log_debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
  if (log_enabled(LogLevel::Debug)) log(LogLevel::Debug, event, fields);
}
inline void log_info(std::string_view event, std::initializer_list<LogField> fields = {}) {
  log(LogLevel::Info, event, fields);
}
inline void log_warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
  log(LogLevel::Warn, event, fields);
}
inline void log_error(std::string_view event, std::initializer_list<LogField> fields = {}) {
  log(LogLevel::Error, event, fields);
}

// Formats one line (without the time stamp) — for tests.
std::string format_log_fields(std::initializer_list<LogField> fields);

}  // namespace tern::relay
