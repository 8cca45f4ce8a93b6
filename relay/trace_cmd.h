#pragma once
// `tern trace [FILE]`: prints the Received: hop chain of a message, oldest
// first, as a table, JSON (--json) or Graphviz (--dot). run_trace() lives in
// cli.h; these are its pure renderers, so tests can check them without a
// process. Output holds no colour codes, and control bytes from the message
// are written as '?' in the table and the graph (JSON escapes them).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "smtp/received.h"

namespace tern::relay {

// "+2s", "+1m05s", "+1h00m02s", "+1d02h03m04s", "-1s" (clock skew); "?" when
// unknown; "-" for the first hop.
std::string format_delay(std::optional<std::chrono::seconds> delay, bool first_hop);

// One line per hop: index, timestamp (RFC 3339 UTC or "?"), delay,
// "from -> by", with, id; columns padded to line up, unknown fields "?". A hop
// with neither from nor by (qmail's "(qmail 1234 invoked from network)")
// shows its text before the date instead.
std::string trace_table(const std::vector<smtp::Hop>& hops);

// A JSON array of {"from","by","with","id","timestamp","delay_seconds"}; a
// missing string or timestamp is null, as is delay_seconds for the first hop.
std::string trace_json(const std::vector<smtp::Hop>& hops);

// digraph: one node per distinct host name, one edge per hop labelled with
// its delay. A hop without "from" starts at the previous hop's "by".
std::string trace_dot(const std::vector<smtp::Hop>& hops);

}  // namespace tern::relay
