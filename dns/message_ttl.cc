#include "dns/message_ttl.h"

#include <algorithm>
#include <cstdint>

namespace tern::dns {
namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::uint16_t kTypeSoa = 6;
constexpr std::size_t kSoaFixedTail = 20;  // serial, refresh, retry, expire, minimum
constexpr int kMaxLabels = 128;            // a 255-byte name has at most 127 labels

class Reader {
 public:
  Reader(const unsigned char* p, std::size_t n) : p_(p), n_(n) {}

  bool skip(std::size_t k) {
    if (n_ - pos_ < k) return false;
    pos_ += k;
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (n_ - pos_ < 2) return false;
    v = static_cast<std::uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (n_ - pos_ < 4) return false;
    v = std::uint32_t{p_[pos_]} << 24 | std::uint32_t{p_[pos_ + 1]} << 16 | std::uint32_t{p_[pos_ + 2]} << 8 |
        std::uint32_t{p_[pos_ + 3]};
    pos_ += 4;
    return true;
  }
  // Skips an owner name in place: labels up to a zero byte or a compression
  // pointer (which ends the name here; we never follow it).
  bool skip_name() {
    for (int i = 0; i < kMaxLabels; ++i) {
      if (pos_ >= n_) return false;
      unsigned len = p_[pos_];
      if ((len & 0xC0) == 0xC0) return skip(2);
      if ((len & 0xC0) != 0) return false;  // 0x40/0x80: extended label types, unsupported
      ++pos_;
      if (len == 0) return true;
      if (!skip(len)) return false;
    }
    return false;
  }
  std::size_t pos() const { return pos_; }
  const unsigned char* at(std::size_t offset) const { return p_ + offset; }

 private:
  const unsigned char* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

std::chrono::seconds ttl_value(std::uint32_t raw) {
  return std::chrono::seconds{(raw & 0x80000000U) != 0 ? 0 : raw};
}

struct Record {
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata = 0;  // offset of the data
  std::uint16_t rdlength = 0;
};

bool read_record(Reader& r, Record& rec) {
  std::uint16_t klass = 0;
  if (!r.skip_name() || !r.u16(rec.type) || !r.u16(klass) || !r.u32(rec.ttl) || !r.u16(rec.rdlength)) return false;
  rec.rdata = r.pos();
  return r.skip(rec.rdlength);
}

}  // namespace

MessageTtls read_message_ttls(const unsigned char* message, std::size_t length) {
  MessageTtls out;
  if (message == nullptr || length < kHeaderSize) return out;
  Reader r(message, length);
  std::uint16_t id = 0, flags = 0, qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  if (!r.u16(id) || !r.u16(flags) || !r.u16(qdcount) || !r.u16(ancount) || !r.u16(nscount) || !r.u16(arcount)) {
    return out;
  }
  for (unsigned i = 0; i < qdcount; ++i) {
    if (!r.skip_name() || !r.skip(4)) return out;
  }
  std::optional<std::chrono::seconds> answer_min;
  for (unsigned i = 0; i < ancount; ++i) {
    Record rec;
    if (!read_record(r, rec)) return out;  // a section we cannot walk gives no TTL at all
    auto ttl = ttl_value(rec.ttl);
    answer_min = answer_min ? std::min(*answer_min, ttl) : ttl;
  }
  out.answer = answer_min;
  for (unsigned i = 0; i < nscount; ++i) {
    Record rec;
    if (!read_record(r, rec)) return out;
    if (rec.type != kTypeSoa || rec.rdlength < kSoaFixedTail + 2) continue;
    Reader tail(message, rec.rdata + rec.rdlength);
    std::uint32_t minimum = 0;
    if (!tail.skip(rec.rdata + rec.rdlength - 4) || !tail.u32(minimum)) return out;
    out.negative = std::min(ttl_value(rec.ttl), ttl_value(minimum));
    break;
  }
  return out;
}

}  // namespace tern::dns
