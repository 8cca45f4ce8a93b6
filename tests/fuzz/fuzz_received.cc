// fuzz_received: any bytes as a message never crash received_chain() or
// parse_mail_date(), and the hops keep their promises (delay set exactly when
// both timestamps are, equal to their difference). The same bytes also choose
// the fields of a tern Received: field, in one of two modes: names from the
// legal alphabets (format_received must write them unchanged) or raw bytes
// (written as received_token() says). Either way the field must be well
// formed and parse back to the same from/by/with/id/for/timestamp.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/mail_date.h"
#include "smtp/received.h"

namespace {

using namespace tern::smtp;
using namespace std::chrono;

constexpr std::string_view kHostAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
constexpr std::string_view kTokenAlphabet =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_[]:=@!#$%&'*+/?^`{|}~,";
constexpr std::string_view kIpAlphabet = "0123456789abcdefABCDEF.:";
constexpr std::string_view kRcptAlphabet =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+\"() \\[]:,";

class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    return v;
  }
  // Up to 63 bytes; mapped into `alphabet` unless it is empty.
  std::string text(std::string_view alphabet) {
    size_t n = byte() % 64;
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      uint8_t b = byte();
      s += alphabet.empty() ? static_cast<char>(b) : alphabet[b % alphabet.size()];
    }
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view no_dot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

// What received.h promises for each field, written out independently.
bool writable_reverse_name(std::string_view name) {
  bool letter = false;
  for (char c : name) {
    if (kHostAlphabet.find(c) == std::string_view::npos) return false;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) letter = true;
  }
  return letter && !iequals(no_dot(name), "unknown");
}

std::string written_ip(std::string_view ip) {
  std::string out;
  for (char c : ip) out += kIpAlphabet.find(c) == std::string_view::npos ? '?' : c;
  return out;
}

std::string written_rcpt(std::string_view rcpt) {
  std::string out;
  for (char c : rcpt) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '<' || c == '>' || c == ';') ? '?' : c;
  }
  return out;
}

// "[x]..." names the address x (without an IPv6 tag); anything else none.
std::string_view literal_inner(std::string_view w) {
  if (w.size() < 2 || w.front() != '[') return {};
  size_t close = w.find(']');
  if (close == std::string_view::npos) return {};
  std::string_view inner = w.substr(1, close - 1);
  if (inner.size() >= 5 && iequals(inner.substr(0, 5), "IPv6:")) inner.remove_prefix(5);
  return inner;
}

std::string expected_from(const ReceivedFields& f) {
  std::string helo = received_token(f.helo);
  if (f.client_ip.empty()) return helo;
  std::string out = helo;
  if (f.reverse_name && writable_reverse_name(*f.reverse_name) && !iequals(no_dot(*f.reverse_name), no_dot(helo))) {
    out += " (" + *f.reverse_name + ")";
  }
  std::string ip = written_ip(f.client_ip);
  if (!iequals(ip, literal_inner(helo))) out += " [" + ip + "]";
  return out;
}

[[noreturn]] void fail(const char* what, const std::string& field, const std::string& got, const std::string& want) {
  std::fprintf(stderr, "fuzz_received: %s\nfield:\n%s\ngot:  [%s]\nwant: [%s]\n", what, field.c_str(), got.c_str(),
               want.c_str());
  __builtin_trap();
}

void check_chain_invariants(std::string_view message) {
  std::vector<Hop> hops = received_chain(message);
  for (size_t i = 0; i < hops.size(); ++i) {
    bool want_delay = i > 0 && hops[i].timestamp && hops[i - 1].timestamp;
    if (hops[i].delay.has_value() != want_delay) __builtin_trap();
    if (want_delay && *hops[i].delay != *hops[i].timestamp - *hops[i - 1].timestamp) __builtin_trap();
  }
}

void check_round_trip(Bytes& in) {
  uint8_t mode = in.byte();
  bool raw = mode & 1;
  ReceivedFields f;
  f.helo = in.text(raw ? "" : kTokenAlphabet);
  f.client_ip = (mode & 2) ? "" : in.text(raw ? "" : kIpAlphabet);
  if (mode & 4) f.reverse_name = in.text(raw ? "" : kHostAlphabet);
  f.by = in.text(raw ? "" : kTokenAlphabet);
  f.protocol = static_cast<ReceivedProtocol>(in.byte() % 5);
  f.id = in.text(raw ? "" : kTokenAlphabet);
  if (mode & 8) f.for_rcpt = in.text(raw ? "" : kRcptAlphabet);
  if (mode & 16) f.tls = ReceivedTls{in.text(raw ? "" : kTokenAlphabet), in.text(raw ? "" : kTokenAlphabet)};
  // Any instant from 1900-01-01 to 2261-12-31, with a fraction of a second:
  // system_clock counts nanoseconds in 64 bits, which ends in April 2262.
  constexpr int64_t kFirst = -2208988800LL;  // 1900-01-01T00:00:00Z
  constexpr int64_t kSpan = 9214646400LL - kFirst;  // to 2262-01-01T00:00:00Z
  int64_t secs = kFirst + static_cast<int64_t>(in.u64() % static_cast<uint64_t>(kSpan));
  f.time = system_clock::time_point{seconds{secs}} + milliseconds{in.byte() % 1000};

  if (!raw && !f.helo.empty() && received_token(f.helo) != f.helo) fail("a legal HELO was rewritten", f.helo, "", "");

  std::string field = format_received(f);
  // Well formed: "Received: ", CRLF only as "\r\n\t" folds or at the end.
  if (field.rfind("Received: from ", 0) != 0 || field.size() < 2 || field.substr(field.size() - 2) != "\r\n") {
    fail("malformed field", field, "", "");
  }
  for (size_t i = 0; i < field.size(); ++i) {
    bool bad = false;
    if (field[i] == '\r') {
      bad = i + 1 >= field.size() || field[i + 1] != '\n' || (i + 2 < field.size() && field[i + 2] != '\t');
    } else if (field[i] == '\n') {
      bad = i == 0 || field[i - 1] != '\r';
    }
    if (bad) fail("bare line break", field, "", "");
  }

  std::vector<Hop> hops = received_chain(field + "Subject: x\r\n\r\n");
  if (hops.size() != 1) fail("not exactly one hop", field, std::to_string(hops.size()), "1");
  const Hop& hop = hops[0];
  std::string want = expected_from(f);
  if (hop.from != want) fail("from", field, hop.from, want);
  want = received_token(f.by);
  if (hop.by != want) fail("by", field, hop.by, want);
  want = std::string(to_string(f.protocol));
  if (hop.with != want) fail("with", field, hop.with, want);
  want = f.id.empty() ? "" : received_token(f.id);
  if (hop.id != want) fail("id", field, hop.id, want);
  want = f.for_rcpt ? written_rcpt(*f.for_rcpt) : "";
  if (hop.for_rcpt != want) fail("for", field, hop.for_rcpt, want);
  sys_seconds when = floor<seconds>(f.time);
  if (!hop.timestamp || *hop.timestamp != when) {
    fail("timestamp", field, hop.timestamp ? format_rfc3339(*hop.timestamp) : "none", format_rfc3339(when));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  check_chain_invariants(message);
  (void)parse_mail_date(message.substr(0, 256));
  for (size_t semi = message.find(';'); semi != std::string_view::npos && semi < 4096; semi = message.find(';', semi + 1)) {
    (void)parse_mail_date(message.substr(semi + 1, 256));
  }
  Bytes in(data, size);
  check_round_trip(in);
  return 0;
}
