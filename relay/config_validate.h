#pragma once
// The rules of a Config that tie keys together or touch the file system:
// a listener at least, cert with key and both readable, relayhost required
// for mode = relayhost, user with password file, per-client <= total
// connections, lifetime >= first retry, hostname and spool syntax. Keys'
// own ranges were checked when they were set (config_keys.cc). Internal to
// config.cc. Returns every problem, one sentence each, naming the key and,
// through origin(), where its value came from.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "relay/config.h"

namespace tern::relay {

// origin("delivery.workers") -> "from TERN_DELIVERY_WORKERS", "in /etc/tern/tern.toml:12", "default"
using OriginOf = std::function<std::string(std::string_view dotted_key)>;

std::vector<std::string> validate_config(const Config& config, const OriginOf& origin);

// Letters, digits, hyphens and dots; labels 1..63 not starting or ending
// with a hyphen; 1..253 in all.
bool valid_domain_name(std::string_view name);

}  // namespace tern::relay
