#pragma once
// Test helper: builds DNS response messages byte by byte, so parsers can be
// fed exact (and exactly broken) input without a server. Header-only.

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace tern::dns::testing {

using Bytes = std::vector<unsigned char>;

inline constexpr std::uint16_t kTypeA = 1, kTypeSoa = 6, kTypeCname = 5, kTypeMx = 15, kTypeAaaa = 28;

inline Bytes wire_name(const std::string& name) {
  Bytes out;
  std::stringstream labels(name);
  std::string label;
  while (std::getline(labels, label, '.')) {
    if (label.empty()) continue;
    out.push_back(static_cast<unsigned char>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
  }
  out.push_back(0);
  return out;
}

inline void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v & 0xff));
}
inline void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v & 0xffff));
}

inline Bytes rdata_a(const std::string& text) {
  std::array<unsigned char, 4> raw{};
  inet_pton(AF_INET, text.c_str(), raw.data());
  return Bytes(raw.begin(), raw.end());
}
inline Bytes rdata_aaaa(const std::string& text) {
  std::array<unsigned char, 16> raw{};
  inet_pton(AF_INET6, text.c_str(), raw.data());
  return Bytes(raw.begin(), raw.end());
}
inline Bytes rdata_mx(std::uint16_t preference, const std::string& host) {
  Bytes b;
  put16(b, preference);
  Bytes n = wire_name(host);
  b.insert(b.end(), n.begin(), n.end());
  return b;
}
inline Bytes rdata_soa(std::uint32_t minimum) {
  Bytes b = wire_name("ns.example.test");
  Bytes r = wire_name("hostmaster.example.test");
  b.insert(b.end(), r.begin(), r.end());
  for (std::uint32_t v : {1u, 3600u, 600u, 86400u}) put32(b, v);
  put32(b, minimum);
  return b;
}

class MessageBuilder {
 public:
  // rcode: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN.
  MessageBuilder(const std::string& qname, std::uint16_t qtype, std::uint8_t rcode = 0)
      : qname_(wire_name(qname)), qtype_(qtype), rcode_(rcode) {}

  // owner: "" means a compression pointer to the question name.
  MessageBuilder& answer(const std::string& owner, std::uint16_t type, std::uint32_t ttl, const Bytes& rdata) {
    add(answers_, owner, type, ttl, rdata);
    ++ancount_;
    return *this;
  }
  MessageBuilder& authority(const std::string& owner, std::uint16_t type, std::uint32_t ttl, const Bytes& rdata) {
    add(authority_, owner, type, ttl, rdata);
    ++nscount_;
    return *this;
  }

  Bytes build() const {
    Bytes b;
    put16(b, 0x1234);
    put16(b, static_cast<std::uint16_t>(0x8180 | rcode_));  // QR RD RA
    put16(b, 1);
    put16(b, ancount_);
    put16(b, nscount_);
    put16(b, 0);
    b.insert(b.end(), qname_.begin(), qname_.end());
    put16(b, qtype_);
    put16(b, 1);
    b.insert(b.end(), answers_.begin(), answers_.end());
    b.insert(b.end(), authority_.begin(), authority_.end());
    return b;
  }

 private:
  static void add(Bytes& section, const std::string& owner, std::uint16_t type, std::uint32_t ttl, const Bytes& rdata) {
    if (owner.empty()) {
      put16(section, 0xC00C);  // pointer to the question name at offset 12
    } else {
      Bytes n = wire_name(owner);
      section.insert(section.end(), n.begin(), n.end());
    }
    put16(section, type);
    put16(section, 1);
    put32(section, ttl);
    put16(section, static_cast<std::uint16_t>(rdata.size()));
    section.insert(section.end(), rdata.begin(), rdata.end());
  }

  Bytes qname_;
  std::uint16_t qtype_;
  std::uint8_t rcode_;
  std::uint16_t ancount_ = 0, nscount_ = 0;
  Bytes answers_, authority_;
};

}  // namespace tern::dns::testing
