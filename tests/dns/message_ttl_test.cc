#include "dns/message_ttl.h"

#include <gtest/gtest.h>

#include "tests/dns/dns_message.h"

namespace tern::dns {
namespace {

using std::chrono::seconds;
using testing::Bytes;
using testing::MessageBuilder;

MessageTtls read(const Bytes& b) { return read_message_ttls(b.data(), b.size()); }

TEST(MessageTtl, Table) {
  struct Row {
    const char* what;
    Bytes message;
    std::optional<seconds> answer, negative;
  } rows[] = {
      {"min over answers",
       MessageBuilder("example.test", testing::kTypeMx)
           .answer("example.test", testing::kTypeMx, 300, testing::rdata_mx(10, "mx1.example.test"))
           .answer("example.test", testing::kTypeMx, 120, testing::rdata_mx(20, "mx2.example.test"))
           .build(),
       seconds{120}, std::nullopt},
      {"compressed owner names",
       MessageBuilder("example.test", testing::kTypeA)
           .answer("", testing::kTypeCname, 50, testing::wire_name("real.example.test"))
           .answer("real.example.test", testing::kTypeA, 70, testing::rdata_a("192.0.2.1"))
           .build(),
       seconds{50}, std::nullopt},
      {"top bit set counts as zero",
       MessageBuilder("example.test", testing::kTypeA)
           .answer("", testing::kTypeA, 0x80000001u, testing::rdata_a("192.0.2.1"))
           .build(),
       seconds{0}, std::nullopt},
      {"negative: SOA TTL below MINIMUM",
       MessageBuilder("nx.example.test", testing::kTypeMx, 3)
           .authority("example.test", testing::kTypeSoa, 30, testing::rdata_soa(60))
           .build(),
       std::nullopt, seconds{30}},
      {"negative: MINIMUM below SOA TTL",
       MessageBuilder("example.test", testing::kTypeAaaa)
           .authority("example.test", testing::kTypeSoa, 3600, testing::rdata_soa(90))
           .build(),
       std::nullopt, seconds{90}},
      {"authority without SOA",
       MessageBuilder("example.test", testing::kTypeAaaa)
           .authority("example.test", testing::kTypeA, 3600, testing::rdata_a("192.0.2.9"))
           .build(),
       std::nullopt, std::nullopt},
      {"SOA data too short to hold MINIMUM",
       MessageBuilder("example.test", testing::kTypeAaaa)
           .authority("example.test", testing::kTypeSoa, 3600, Bytes(10, 0))
           .build(),
       std::nullopt, std::nullopt},
      {"empty", Bytes{}, std::nullopt, std::nullopt},
  };
  for (const auto& r : rows) {
    auto got = read(r.message);
    EXPECT_EQ(got.answer, r.answer) << r.what;
    EXPECT_EQ(got.negative, r.negative) << r.what;
  }
}

TEST(MessageTtl, EveryTruncationIsSafe) {
  // Cut a full message at every length: no read beyond the end (ASan watches),
  // and never a TTL from a section that was cut.
  Bytes full = MessageBuilder("example.test", testing::kTypeMx)
                   .answer("", testing::kTypeMx, 300, testing::rdata_mx(10, "mx1.example.test"))
                   .authority("example.test", testing::kTypeSoa, 30, testing::rdata_soa(60))
                   .build();
  ASSERT_EQ(read(full).answer, seconds{300});
  ASSERT_EQ(read(full).negative, seconds{30});
  for (std::size_t n = 0; n < full.size(); ++n) {
    Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    auto got = read_message_ttls(cut.empty() ? nullptr : cut.data(), cut.size());
    EXPECT_FALSE(got.negative) << "cut at " << n;
  }
}

TEST(MessageTtl, HostileNamesAreRejected) {
  Bytes b = MessageBuilder("example.test", testing::kTypeA).build();
  b[5] = 2;  // claims two questions; the second is a run of 0x3f-length labels past the end
  Bytes labels(200, 0x3f);
  b.insert(b.end(), labels.begin(), labels.end());
  EXPECT_FALSE(read(b).answer);
  Bytes ext = MessageBuilder("example.test", testing::kTypeA).build();
  ext[12] = 0x41;  // extended label type
  EXPECT_FALSE(read(ext).answer);
}

}  // namespace
}  // namespace tern::dns
