#include "dns/answer.h"

#include <ares.h>
#include <gtest/gtest.h>

#include "tests/dns/dns_message.h"

namespace tern::dns {
namespace {

using std::chrono::seconds;
using testing::Bytes;
using testing::MessageBuilder;

Answer parse(RecordType type, int status, const Bytes& b) { return parse_answer(type, status, b.data(), b.size()); }

TEST(ParseAnswer, StatusMapping) {
  struct Row {
    int ares_status;
    AnswerStatus want;
    bool transient;
  } rows[] = {
      {ARES_ENODATA, AnswerStatus::NoData, false},       {ARES_ENOTFOUND, AnswerStatus::NxDomain, false},
      {ARES_ESERVFAIL, AnswerStatus::ServFail, true},    {ARES_EREFUSED, AnswerStatus::Refused, true},
      {ARES_ETIMEOUT, AnswerStatus::Timeout, true},      {ARES_ECONNREFUSED, AnswerStatus::Unreachable, true},
      {ARES_EFORMERR, AnswerStatus::Malformed, true},    {ARES_EBADRESP, AnswerStatus::Malformed, true},
      {ARES_ECANCELLED, AnswerStatus::Cancelled, true},  {ARES_EDESTRUCTION, AnswerStatus::Cancelled, true},
      {ARES_ENOMEM, AnswerStatus::Failed, true},         {ARES_EBADNAME, AnswerStatus::Failed, true},
  };
  for (const auto& r : rows) {
    auto a = parse_answer(RecordType::Mx, r.ares_status, nullptr, 0);
    EXPECT_EQ(a.status, r.want) << ares_strerror(r.ares_status);
    EXPECT_EQ(is_transient(a.status), r.transient) << ares_strerror(r.ares_status);
  }
  EXPECT_FALSE(is_transient(AnswerStatus::Ok));
  EXPECT_EQ(parse_answer(RecordType::A, ARES_ENOMEM, nullptr, 0).detail, ares_strerror(ARES_ENOMEM));
}

TEST(ParseAnswer, Mx) {
  auto msg = MessageBuilder("example.test", testing::kTypeMx)
                 .answer("", testing::kTypeMx, 300, testing::rdata_mx(20, "mx2.example.test"))
                 .answer("", testing::kTypeMx, 200, testing::rdata_mx(10, "mx1.example.test"))
                 .build();
  auto a = parse(RecordType::Mx, ARES_SUCCESS, msg);
  ASSERT_EQ(a.status, AnswerStatus::Ok);
  EXPECT_EQ(a.mx, (std::vector<MxRecord>{{"mx2.example.test", 20}, {"mx1.example.test", 10}}));
  EXPECT_EQ(a.ttl, seconds{200});
}

TEST(ParseAnswer, NullMxIsAnEmptyHost) {
  auto msg = MessageBuilder("nullmx.test", testing::kTypeMx)
                 .answer("", testing::kTypeMx, 300, testing::rdata_mx(0, "."))
                 .build();
  auto a = parse(RecordType::Mx, ARES_SUCCESS, msg);
  ASSERT_EQ(a.status, AnswerStatus::Ok);
  EXPECT_EQ(a.mx, (std::vector<MxRecord>{{"", 0}}));
}

TEST(ParseAnswer, AddressesWithTtlAndDuplicatesRemoved) {
  auto v4 = MessageBuilder("h.test", testing::kTypeA)
                .answer("", testing::kTypeA, 60, testing::rdata_a("192.0.2.1"))
                .answer("", testing::kTypeA, 30, testing::rdata_a("192.0.2.2"))
                .answer("", testing::kTypeA, 90, testing::rdata_a("192.0.2.1"))
                .build();
  auto a = parse(RecordType::A, ARES_SUCCESS, v4);
  ASSERT_EQ(a.status, AnswerStatus::Ok);
  EXPECT_EQ(a.addresses, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(a.ttl, seconds{30});

  auto v6 = MessageBuilder("h.test", testing::kTypeAaaa)
                .answer("", testing::kTypeAaaa, 45, testing::rdata_aaaa("2001:db8::7"))
                .build();
  auto b = parse(RecordType::Aaaa, ARES_SUCCESS, v6);
  ASSERT_EQ(b.status, AnswerStatus::Ok);
  EXPECT_EQ(b.addresses, (std::vector<std::string>{"2001:db8::7"}));
  EXPECT_EQ(b.ttl, seconds{45});
}

TEST(ParseAnswer, CnameOnlyIsNoData) {
  auto msg = MessageBuilder("alias.test", testing::kTypeA)
                 .answer("", testing::kTypeCname, 60, testing::wire_name("elsewhere.test"))
                 .build();
  EXPECT_EQ(parse(RecordType::A, ARES_SUCCESS, msg).status, AnswerStatus::NoData);
}

TEST(ParseAnswer, NegativeTtlFromSoa) {
  auto msg = MessageBuilder("nx.test", testing::kTypeMx, 3)
                 .authority("test", testing::kTypeSoa, 600, testing::rdata_soa(120))
                 .build();
  auto a = parse(RecordType::Mx, ARES_ENOTFOUND, msg);
  EXPECT_EQ(a.status, AnswerStatus::NxDomain);
  EXPECT_EQ(a.ttl, seconds{120});
  EXPECT_FALSE(parse_answer(RecordType::Mx, ARES_ENODATA, nullptr, 0).ttl);
}

TEST(ParseAnswer, GarbageIsMalformedNeverOk) {
  auto good = MessageBuilder("example.test", testing::kTypeMx)
                  .answer("", testing::kTypeMx, 300, testing::rdata_mx(10, "mx1.example.test"))
                  .build();
  EXPECT_EQ(parse(RecordType::Mx, ARES_SUCCESS, Bytes{}).status, AnswerStatus::Malformed);
  for (std::size_t n = 1; n < good.size(); ++n) {
    Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    auto a = parse(RecordType::Mx, ARES_SUCCESS, cut);
    EXPECT_NE(a.status, AnswerStatus::Ok) << "cut at " << n;
  }
  for (auto type : {RecordType::A, RecordType::Aaaa}) {
    Bytes junk(40, 0xff);
    EXPECT_NE(parse(type, ARES_SUCCESS, junk).status, AnswerStatus::Ok);
  }
}

TEST(ParseAnswer, Describe) {
  EXPECT_EQ(describe(RecordType::Aaaa), "AAAA");
  EXPECT_EQ(describe(AnswerStatus::NxDomain), "NXDOMAIN");
  EXPECT_EQ(describe(AnswerStatus::ServFail), "SERVFAIL");
  EXPECT_EQ(describe(AnswerStatus::Timeout), "timeout");
}

}  // namespace
}  // namespace tern::dns
