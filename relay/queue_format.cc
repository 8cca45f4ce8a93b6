#include "relay/queue_format.h"

#include <cstdio>
#include <ctime>

namespace tern::relay {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::floor<std::chrono::seconds>(t));
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "invalid-time";
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return n > 0 ? std::string(buf, n) : std::string("invalid-time");
}

std::string short_duration(std::chrono::system_clock::duration d) {
  using namespace std::chrono;
  auto s = duration_cast<seconds>(d).count();
  if (s <= 0) return "0s";
  struct Unit {
    long long seconds;
    const char* name;
  };
  const Unit units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (std::size_t i = 0; i < std::size(units); ++i) {
    if (s < units[i].seconds) continue;
    std::string out = std::to_string(s / units[i].seconds) + units[i].name;
    long long rest = s % units[i].seconds;
    if (i + 1 < std::size(units) && rest / units[i + 1].seconds > 0) {
      out += std::to_string(rest / units[i + 1].seconds) + units[i + 1].name;
    }
    return out;
  }
  return "0s";
}

std::string human_size(std::int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  v /= 1024;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out += " / ";
      ++i;
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string describe(const smtp::MailParams& p) {
  std::string out;
  auto add = [&out](const std::string& word) {
    if (!out.empty()) out.push_back(' ');
    out += word;
  };
  if (p.size) add("SIZE=" + std::to_string(*p.size));
  switch (p.body) {
    case smtp::BodyType::Unspecified: break;
    case smtp::BodyType::SevenBit: add("BODY=7BIT"); break;
    case smtp::BodyType::EightBitMime: add("BODY=8BITMIME"); break;
    case smtp::BodyType::BinaryMime: add("BODY=BINARYMIME"); break;
  }
  if (p.smtputf8) add("SMTPUTF8");
  if (p.ret == smtp::DsnRet::Full) add("RET=FULL");
  if (p.ret == smtp::DsnRet::Hdrs) add("RET=HDRS");
  if (p.envid) add("ENVID=" + printable(*p.envid));
  if (p.auth) add("AUTH=" + printable(*p.auth));
  return out;
}

std::string describe(const smtp::RcptParams& p) {
  std::string out;
  if (p.notify_given()) {
    std::string list;
    auto item = [&list](bool on, const char* name) {
      if (!on) return;
      if (!list.empty()) list.push_back(',');
      list += name;
    };
    item(p.notify_never, "NEVER");
    item(p.notify_success, "SUCCESS");
    item(p.notify_failure, "FAILURE");
    item(p.notify_delay, "DELAY");
    out = "NOTIFY=" + list;
  }
  if (p.orcpt) {
    if (!out.empty()) out.push_back(' ');
    out += "ORCPT=" + printable(*p.orcpt);
  }
  return out;
}

}  // namespace tern::relay
