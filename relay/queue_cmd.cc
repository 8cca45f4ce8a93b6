// `tern queue ...`: the operator's view of the spool. Listing streams (a
// million messages never sit in memory), summary reads counters, and changes
// go through queue::Admin's short transactions.
#include "relay/queue_cmd.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <ostream>
#include <string>

#include "queue/admin.h"
#include "queue/db.h"
#include "queue/reader.h"
#include "queue/schema.h"
#include "relay/exit_codes.h"
#include "relay/queue_format.h"

namespace tern::relay {
namespace {

using json = nlohmann::json;
using queue::MessageInfo;
using queue::RecipientInfo;
using queue::RecipientState;
using TimePoint = std::chrono::system_clock::time_point;

constexpr std::size_t kTopDomains = 20;
constexpr std::size_t kTopErrors = 10;

int fail(const CliIo& io, const Error& error) {
  io.err << "tern queue: " << error.message() << "\n";
  return queue::is_busy_error(error) ? kExTempFail : kExIoErr;
}

// Replies and addresses come from peers: never let invalid UTF-8 make dump() throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sender_text(const smtp::Path& p) { return p.mailbox ? queue::mailbox_text(*p.mailbox) : std::string(); }

std::string when(TimePoint t, TimePoint now) {
  std::string out = rfc3339(t);
  if (t <= now) return out + " (due now)";
  return out + " (in " + short_duration(t - now) + ")";
}

std::string recipient_line(const RecipientInfo& r, TimePoint now) {
  std::string out = printable(r.address) + "  " + std::string(queue::to_string(r.state));
  if (r.attempts > 0) out += ", " + std::to_string(r.attempts) + (r.attempts == 1 ? " attempt" : " attempts");
  if (r.state == RecipientState::Ready || r.state == RecipientState::Deferred) out += ", next " + when(r.next_attempt, now);
  if (!r.last_reply.empty()) out += ": " + printable(r.last_reply);
  return out;
}

// One `queue list --json` object. Message-level "attempts" is the most any
// recipient had; "next_attempt" the earliest of the ready/deferred recipients,
// null when none is pending (all held); "last_reply" is "" before an attempt.
json message_json(const MessageInfo& m) {
  json recipients = json::array();
  for (const auto& r : m.recipients) {
    recipients.push_back({{"address", r.address},
                          {"state", std::string(queue::to_string(r.state))},
                          {"attempts", r.attempts},
                          {"last_reply", r.last_reply}});
  }
  auto next = m.next_attempt();
  return json{{"id", m.id},
              {"received_at", rfc3339(m.received_at)},
              {"size", m.size},
              {"sender", sender_text(m.sender)},
              {"attempts", m.attempts()},
              {"next_attempt", next ? json(rfc3339(*next)) : json(nullptr)},
              {"state", std::string(queue::to_string(m.state))},
              {"recipients", std::move(recipients)}};
}

int list(queue::Reader& reader, bool as_json, const CliIo& io) {
  std::int64_t messages = 0, bytes = 0;
  if (as_json) io.out << "[";
  auto status = reader.list([&](const MessageInfo& m) {
    if (as_json) {
      io.out << (messages == 0 ? "\n" : ",\n") << dump(message_json(m));
    } else {
      io.out << m.id << "  " << queue::to_string(m.state) << "  age " << short_duration(io.now - m.received_at)
             << "  " << m.size << " bytes  from <" << printable(sender_text(m.sender)) << ">\n";
      for (const auto& r : m.recipients) io.out << "    " << recipient_line(r, io.now) << "\n";
    }
    ++messages;
    bytes += m.size;
  });
  if (as_json) io.out << (messages == 0 ? "]\n" : "\n]\n");
  if (!status) return fail(io, status.error());
  if (!as_json) {
    if (messages == 0) {
      io.out << "queue is empty\n";
    } else {
      io.out << "-- " << messages << (messages == 1 ? " message, " : " messages, ") << human_size(bytes) << "\n";
    }
  }
  io.out.flush();
  return io.out ? kExOk : kExIoErr;
}

int summary(queue::Reader& reader, bool as_json, const CliIo& io) {
  auto s = reader.summary(kTopDomains, kTopErrors);
  if (!s) return fail(io, s.error());
  const auto& m = s->messages;
  std::int64_t recipients = s->recipients_ready + s->recipients_deferred + s->recipients_held;
  if (as_json) {
    json domains = json::array();
    for (const auto& d : s->domains) {
      domains.push_back(
          {{"domain", d.domain}, {"total", d.total()}, {"ready", d.ready}, {"deferred", d.deferred}, {"held", d.held}});
    }
    json errors = json::array();
    for (const auto& e : s->errors) errors.push_back({{"reply", e.reply}, {"recipients", e.recipients}});
    json out{{"messages", {{"total", m.total()}, {"ready", m.ready}, {"deferred", m.deferred}, {"held", m.held}}},
             {"recipients",
              {{"total", recipients},
               {"ready", s->recipients_ready},
               {"deferred", s->recipients_deferred},
               {"held", s->recipients_held}}},
             {"oldest_received_at", m.oldest_received_at ? json(rfc3339(*m.oldest_received_at)) : json(nullptr)},
             {"oldest_age_seconds",
              m.oldest_received_at
                  ? json(std::max<std::int64_t>(
                        0, std::chrono::duration_cast<std::chrono::seconds>(io.now - *m.oldest_received_at).count()))
                  : json(nullptr)},
             {"domain_count", s->domain_count},
             {"domains", std::move(domains)},
             {"errors", std::move(errors)}};
    io.out << dump(out) << "\n";
    io.out.flush();
    return io.out ? kExOk : kExIoErr;
  }
  io.out << "messages:   " << m.total() << " (ready " << m.ready << ", deferred " << m.deferred << ", held " << m.held
         << ")\n";
  io.out << "recipients: " << recipients << " (ready " << s->recipients_ready << ", deferred "
         << s->recipients_deferred << ", held " << s->recipients_held << ") in " << s->domain_count
         << (s->domain_count == 1 ? " domain\n" : " domains\n");
  if (m.oldest_received_at) {
    io.out << "oldest:     " << short_duration(io.now - *m.oldest_received_at) << " ("
           << rfc3339(*m.oldest_received_at) << ")\n";
  }
  if (!s->domains.empty()) {
    std::size_t width = 6;
    for (const auto& d : s->domains) width = std::max(width, printable(d.domain).size());
    auto pad_left = [](const std::string& cell, std::size_t w) {
      return std::string(cell.size() < w ? w - cell.size() : 0, ' ') + cell;
    };
    auto row = [&](const std::string& name, const std::string& total, const std::string& ready,
                   const std::string& deferred, const std::string& held) {
      io.out << name << std::string(width - std::min(width, name.size()), ' ');
      for (const std::string* cell : {&total, &ready, &deferred, &held}) io.out << " " << pad_left(*cell, 9);
      io.out << "\n";
    };
    io.out << "\n";
    row("DOMAIN", "TOTAL", "READY", "DEFERRED", "HELD");
    for (const auto& d : s->domains) {
      row(printable(d.domain.empty() ? "(none)" : d.domain), std::to_string(d.total()), std::to_string(d.ready),
          std::to_string(d.deferred), std::to_string(d.held));
    }
    if (s->domain_count > static_cast<std::int64_t>(s->domains.size())) {
      io.out << "(" << s->domain_count - static_cast<std::int64_t>(s->domains.size()) << " more domains)\n";
    }
  }
  if (!s->errors.empty()) {
    io.out << "\nmost frequent errors of deferred recipients:\n";
    for (const auto& e : s->errors) {
      std::string n = std::to_string(e.recipients);
      io.out << std::string(n.size() < 9 ? 9 - n.size() : 0, ' ') << n << "  " << printable(e.reply) << "\n";
    }
  }
  io.out.flush();
  return io.out ? kExOk : kExIoErr;
}

int show(queue::Reader& reader, const std::string& id, const CliIo& io) {
  auto found = reader.show(id);
  if (!found) return fail(io, found.error());
  if (!*found) {
    io.err << "tern queue: no such message: " << printable(id) << "\n";
    return kExNoInput;
  }
  const queue::MessageDetail& d = **found;
  const MessageInfo& m = d.info;
  io.out << "id:          " << m.id << "\n"
         << "state:       " << queue::to_string(m.state) << "\n"
         << "received:    " << rfc3339(m.received_at) << " (" << short_duration(io.now - m.received_at)
         << " ago) from " << printable(m.client_address.empty() ? "?" : m.client_address);
  if (!m.auth_user.empty()) io.out << ", authenticated as " << printable(m.auth_user);
  io.out << "\n"
         << "size:        " << m.size << " bytes\n"
         << "sender:      <" << printable(sender_text(m.sender)) << ">";
  if (std::string p = describe(m.params); !p.empty()) io.out << " " << p;
  io.out << "\n\nrecipients:\n";
  for (const auto& r : m.recipients) {
    io.out << "  " << recipient_line(r, io.now);
    if (std::string p = describe(r.params); !p.empty()) io.out << "  [" << p << "]";
    io.out << "\n";
    for (const auto& h : d.history) {
      if (h.recipient_id != r.id) continue;
      io.out << "      " << rfc3339(h.at) << "  " << h.outcome;
      if (!h.host.empty()) io.out << "  " << printable(h.host);
      io.out << "  " << printable(h.reply) << "\n";
    }
  }
  io.out << "\nheaders:\n";
  std::string_view headers = d.headers;
  while (!headers.empty()) {
    auto eol = headers.find("\r\n");
    std::string_view line = headers.substr(0, eol);
    io.out << printable(line) << "\n";
    if (eol == std::string_view::npos) break;
    headers.remove_prefix(eol + 2);
  }
  io.out.flush();
  return io.out ? kExOk : kExIoErr;
}

int change(const std::string& spool_dir, const QueueOptions& opts, const std::string& id, const CliIo& io) {
  auto admin = queue::Admin::open(spool_dir);
  if (!admin) return fail(io, admin.error());
  queue::Admin& a = **admin;
  if (opts.action == "retry" && opts.all) {
    auto n = a.retry_all(io.now);
    if (!n) return fail(io, n.error());
    io.out << "tern queue: " << *n << (*n == 1 ? " recipient" : " recipients") << " due now\n";
    return kExOk;
  }
  Result<std::optional<int>> n = std::optional<int>();
  const char* verb = "";
  if (opts.action == "retry") {
    n = a.retry(id, io.now);
    verb = "due now";
  } else if (opts.action == "hold") {
    n = a.hold(id);
    verb = "held";
  } else if (opts.action == "release") {
    n = a.release(id, io.now);
    verb = "released, due now";
  } else {
    n = a.remove(id);
  }
  if (!n) return fail(io, n.error());
  if (!*n) {
    io.err << "tern queue: no such message: " << printable(id) << "\n";
    return kExNoInput;
  }
  if (opts.action == "delete") {
    io.out << "tern queue: " << id << ": deleted\n";
  } else {
    int k = **n;
    io.out << "tern queue: " << id << ": " << k << (k == 1 ? " recipient " : " recipients ") << verb << "\n";
  }
  return kExOk;
}

}  // namespace

int queue_command(const std::string& spool_dir, const QueueOptions& opts) {
  return queue_command(spool_dir, opts, CliIo::standard());
}

int queue_command(const std::string& spool_dir, const QueueOptions& opts, const CliIo& io) {
  static const char* const kActions[] = {"list", "summary", "show", "retry", "hold", "release", "delete"};
  if (std::find(std::begin(kActions), std::end(kActions), opts.action) == std::end(kActions)) {
    io.err << "tern queue: unknown action: " << printable(opts.action) << "\n";
    return kExUsage;
  }
  bool needs_id = opts.action != "list" && opts.action != "summary" && !(opts.action == "retry" && opts.all);
  // Queue ids are upper-case Crockford base32; accept them typed in lower case.
  std::string id = opts.id;
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (needs_id && id.empty()) {
    io.err << "tern queue " << opts.action << ": give a queue id\n";
    return kExUsage;
  }
  if (auto s = queue::check_spool_dir(spool_dir, false); !s) {
    io.err << "tern queue: " << s.error().message() << "\n";
    return kExCantCreat;
  }
  if (opts.action == "retry" || opts.action == "hold" || opts.action == "release" || opts.action == "delete") {
    return change(spool_dir, opts, id, io);
  }
  auto reader = queue::Reader::open(spool_dir);
  if (!reader) return fail(io, reader.error());
  if (opts.action == "list") return list(**reader, opts.json, io);
  if (opts.action == "summary") return summary(**reader, opts.json, io);
  return show(**reader, id, io);
}

}  // namespace tern::relay
