#include "smtp/mail_date.h"

#include <array>
#include <cstdint>
#include <cstdio>

namespace tern::smtp {
namespace {

using namespace std::chrono;

constexpr std::array<const char*, 7> kDayNames = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonthNames = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

constexpr int kMinYear = 1900;
constexpr int kMaxYear = 9999;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// "Nov", "nov", "Novem", "November" all name November: at least three
// letters, and a prefix of the full name.
bool names(std::string_view word, std::string_view full) {
  return word.size() >= 3 && word.size() <= full.size() && iequals(word, full.substr(0, word.size()));
}

std::optional<int> month_index(std::string_view word) {
  for (size_t i = 0; i < kMonthNames.size(); ++i) {
    if (names(word, kMonthNames[i])) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

bool is_day_name(std::string_view word) {
  for (const char* d : kDayNames) {
    if (names(word, d)) return true;
  }
  return false;
}

// Offset east of UTC, in minutes, for the zone names of RFC 5322 §4.3.
// Military letters and unknown names mean "-0000" (no information): 0.
std::optional<int> named_zone_minutes(std::string_view name) {
  struct Zone {
    const char* name;
    int hours;
  };
  static constexpr std::array<Zone, 11> kZones = {{{"UT", 0}, {"UTC", 0}, {"GMT", 0},
                                                    {"EST", -5}, {"EDT", -4}, {"CST", -6},
                                                    {"CDT", -5}, {"MST", -7}, {"MDT", -6},
                                                    {"PST", -8}, {"PDT", -7}}};
  for (const Zone& z : kZones) {
    if (iequals(name, z.name)) return z.hours * 60;
  }
  if (name.size() >= 1 && name.size() <= 5) return 0;
  return std::nullopt;
}

// A cursor over the date text that skips CFWS (RFC 5322 §3.2.2): spaces,
// tabs, line breaks and comments, which nest and may hold quoted pairs. An
// unterminated comment runs to the end of the text.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  void advance() { ++i_; }

  void skip_cfws() {
    while (!at_end()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i_;
      } else if (c == '(') {
        skip_comment();
      } else {
        return;
      }
    }
  }

  bool accept(char c) {
    if (peek() != c || at_end()) return false;
    ++i_;
    return true;
  }

  std::string_view alpha_run() { return run(is_alpha); }
  std::string_view digit_run() { return run(is_digit); }

 private:
  void skip_comment() {
    int depth = 0;
    while (!at_end()) {
      char c = s_[i_++];
      if (c == '\\') {
        if (!at_end()) ++i_;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (--depth == 0) return;
      }
    }
  }

  template <class Pred>
  std::string_view run(Pred pred) {
    size_t start = i_;
    while (!at_end() && pred(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Digits as a number; callers bound the length, so it cannot overflow.
int number(std::string_view digits) {
  int n = 0;
  for (char c : digits) n = n * 10 + (c - '0');
  return n;
}

std::optional<int> parse_year(std::string_view digits) {
  int n = number(digits);
  switch (digits.size()) {
    case 2:
      return n < 50 ? 2000 + n : 1900 + n;  // RFC 5322 §4.3
    case 3:
      return 1900 + n;
    case 4:
      if (n < kMinYear) return std::nullopt;
      return n;
    default:
      return std::nullopt;
  }
}

struct TimeOfDay {
  int hour = 0;
  int minute = 0;
  int second = 0;
};

// hour ":" minute [":" second ["." fraction]], CFWS around the colons (obs-hour).
std::optional<TimeOfDay> parse_time(Cursor& c) {
  TimeOfDay t;
  std::string_view h = c.digit_run();
  if (h.empty() || h.size() > 2) return std::nullopt;
  c.skip_cfws();
  if (!c.accept(':')) return std::nullopt;
  c.skip_cfws();
  std::string_view m = c.digit_run();
  if (m.empty() || m.size() > 2) return std::nullopt;
  t.hour = number(h);
  t.minute = number(m);
  c.skip_cfws();
  if (c.accept(':')) {
    c.skip_cfws();
    std::string_view s = c.digit_run();
    if (s.empty() || s.size() > 2) return std::nullopt;
    t.second = number(s);
    if (c.accept('.')) {
      if (c.digit_run().empty()) return std::nullopt;
    }
  }
  // 60 is a leap second (RFC 5322 §3.3).
  if (t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  return t;
}

// A zone at the cursor, in minutes east of UTC; nullopt when the text there
// is not a zone. The cursor must be past CFWS.
std::optional<int> parse_zone(Cursor& c) {
  char sign = c.peek();
  if (sign == '+' || sign == '-') {
    c.advance();
    std::string_view hh = c.digit_run();
    std::string_view mm;
    if (hh.size() == 4) {
      mm = hh.substr(2);
      hh = hh.substr(0, 2);
    } else if (hh.size() == 2 && c.accept(':')) {
      mm = c.digit_run();
      if (mm.size() != 2) return std::nullopt;
    } else {
      return std::nullopt;
    }
    int minutes = number(mm);
    if (minutes > 59) return std::nullopt;
    int total = number(hh) * 60 + minutes;
    return sign == '-' ? -total : total;
  }
  if (is_alpha(sign)) return named_zone_minutes(c.alpha_run());
  return std::nullopt;
}

std::optional<sys_seconds> assemble(int y, int mon, int d, const TimeOfDay& t, int zone_minutes) {
  if (y < kMinYear || y > kMaxYear) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mon)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  sys_seconds at = sys_days{ymd} + hours{t.hour} + minutes{t.minute} + seconds{t.second};
  return at - minutes{zone_minutes};
}

bool day_digits_ok(std::string_view d) { return !d.empty() && d.size() <= 2; }

// "Tue Nov 25 10:00:00 [zone] 2025 [zone]" (asctime, date(1)); the cursor is
// just past the month name.
std::optional<sys_seconds> parse_asctime_rest(Cursor& c, int mon) {
  c.skip_cfws();
  std::string_view d = c.digit_run();
  if (!day_digits_ok(d)) return std::nullopt;
  c.skip_cfws();
  auto t = parse_time(c);
  if (!t) return std::nullopt;
  c.skip_cfws();
  int zone = 0;
  if (is_alpha(c.peek()) || c.peek() == '+' || c.peek() == '-') {
    auto z = parse_zone(c);
    if (!z) return std::nullopt;
    zone = *z;
    c.skip_cfws();
  }
  std::string_view yd = c.digit_run();
  if (yd.size() != 4) return std::nullopt;
  auto y = parse_year(yd);
  if (!y) return std::nullopt;
  c.skip_cfws();
  if (!c.at_end()) {
    auto z = parse_zone(c);
    if (!z) return std::nullopt;
    zone = *z;
    c.skip_cfws();
  }
  if (!c.at_end()) return std::nullopt;
  return assemble(*y, mon, number(d), *t, zone);
}

void skip_separator(Cursor& c) {
  c.skip_cfws();
  if (c.accept('-')) c.skip_cfws();
}

}  // namespace

std::string format_mail_date(sys_seconds t) {
  sys_days day_point = floor<days>(t);
  year_month_day ymd{day_point};
  hh_mm_ss<seconds> tod{t - day_point};
  weekday wd{day_point};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3s, %u %.3s %04d %02d:%02d:%02d +0000", kDayNames[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonthNames[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()));
  return buf;
}

std::string format_rfc3339(sys_seconds t) {
  sys_days day_point = floor<days>(t);
  year_month_day ymd{day_point};
  hh_mm_ss<seconds> tod{t - day_point};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()));
  return buf;
}

std::optional<sys_seconds> parse_mail_date(std::string_view text) {
  Cursor c(text);
  c.skip_cfws();
  if (is_alpha(c.peek())) {
    std::string_view word = c.alpha_run();
    if (is_day_name(word)) {
      c.skip_cfws();
      c.accept(',');
      c.skip_cfws();
    } else if (auto mon = month_index(word)) {
      return parse_asctime_rest(c, *mon);  // "Nov 25 10:00:00 2025" without a day name
    } else {
      return std::nullopt;
    }
    if (is_alpha(c.peek())) {
      auto mon = month_index(c.alpha_run());
      if (!mon) return std::nullopt;
      return parse_asctime_rest(c, *mon);
    }
  }

  std::string_view d = c.digit_run();
  if (!day_digits_ok(d)) return std::nullopt;
  skip_separator(c);
  auto mon = month_index(c.alpha_run());
  if (!mon) return std::nullopt;
  skip_separator(c);
  std::string_view yd = c.digit_run();
  if (yd.size() > 4) return std::nullopt;
  auto y = parse_year(yd);
  if (!y) return std::nullopt;
  c.skip_cfws();
  auto t = parse_time(c);
  if (!t) return std::nullopt;
  c.skip_cfws();
  int zone = 0;
  if (!c.at_end()) {
    auto z = parse_zone(c);
    if (!z) return std::nullopt;
    zone = *z;
    c.skip_cfws();
  }
  if (!c.at_end()) return std::nullopt;
  return assemble(*y, *mon, number(d), *t, zone);
}

}  // namespace tern::smtp
