#include "dns/answer.h"

#include <arpa/inet.h>
#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <array>
#include <climits>

#include "dns/message_ttl.h"

namespace tern::dns {
namespace {

const void* address_of(const struct ares_addrttl& t) { return &t.ipaddr; }
const void* address_of(const struct ares_addr6ttl& t) { return &t.ip6addr; }

void add_unique(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

// Fills answer.addresses and answer.ttl from an A or AAAA response, or sets
// its status to NoData/Malformed.
template <class AddrTtl, class Parse>
void parse_addresses(Answer& answer, int family, Parse parse, const unsigned char* message, int length) {
  std::array<AddrTtl, kMaxAddressesPerAnswer> ttls{};
  int count = static_cast<int>(ttls.size());
  struct hostent* host = nullptr;
  int rc = parse(message, length, &host, ttls.data(), &count);
  if (host != nullptr) ares_free_hostent(host);
  if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && count <= 0)) {
    answer.status = AnswerStatus::NoData;
    return;
  }
  if (rc != ARES_SUCCESS) {
    answer.status = AnswerStatus::Malformed;
    answer.detail = ares_strerror(rc);
    return;
  }
  std::optional<std::chrono::seconds> min_ttl;
  for (int i = 0; i < count && i < static_cast<int>(ttls.size()); ++i) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (ares_inet_ntop(family, address_of(ttls[i]), text.data(), static_cast<ares_socklen_t>(text.size())) == nullptr) {
      continue;
    }
    add_unique(answer.addresses, text.data());
    std::chrono::seconds ttl{std::max(ttls[i].ttl, 0)};
    min_ttl = min_ttl ? std::min(*min_ttl, ttl) : ttl;
  }
  if (answer.addresses.empty()) {
    answer.status = AnswerStatus::Malformed;
    answer.detail = "no printable address";
    return;
  }
  answer.ttl = min_ttl;
}

void parse_mx(Answer& answer, const unsigned char* message, int length) {
  struct ares_mx_reply* reply = nullptr;
  int rc = ares_parse_mx_reply(message, length, &reply);
  if (rc == ARES_SUCCESS) {
    for (auto* r = reply; r != nullptr; r = r->next) {
      answer.mx.push_back(MxRecord{r->host != nullptr ? r->host : "", r->priority});
    }
  }
  if (reply != nullptr) ares_free_data(reply);
  if (rc == ARES_ENODATA || (rc == ARES_SUCCESS && answer.mx.empty())) {
    answer.status = AnswerStatus::NoData;
    return;
  }
  if (rc != ARES_SUCCESS) {
    answer.status = AnswerStatus::Malformed;
    answer.detail = ares_strerror(rc);
    return;
  }
  answer.ttl = read_message_ttls(message, static_cast<std::size_t>(length)).answer;
}

}  // namespace

std::string_view describe(RecordType type) {
  switch (type) {
    case RecordType::A: return "A";
    case RecordType::Aaaa: return "AAAA";
    case RecordType::Mx: return "MX";
  }
  return "?";
}

std::string_view describe(AnswerStatus status) {
  switch (status) {
    case AnswerStatus::Ok: return "ok";
    case AnswerStatus::NoData: return "no records";
    case AnswerStatus::NxDomain: return "NXDOMAIN";
    case AnswerStatus::ServFail: return "SERVFAIL";
    case AnswerStatus::Refused: return "REFUSED";
    case AnswerStatus::Timeout: return "timeout";
    case AnswerStatus::Unreachable: return "server unreachable";
    case AnswerStatus::Malformed: return "malformed answer";
    case AnswerStatus::Cancelled: return "cancelled";
    case AnswerStatus::Failed: return "lookup failed";
  }
  return "?";
}

bool is_transient(AnswerStatus status) {
  return status != AnswerStatus::Ok && status != AnswerStatus::NoData && status != AnswerStatus::NxDomain;
}

int ares_type(RecordType type) {
  switch (type) {
    case RecordType::A: return ns_t_a;
    case RecordType::Aaaa: return ns_t_aaaa;
    case RecordType::Mx: return ns_t_mx;
  }
  return ns_t_a;
}

Answer parse_answer(RecordType type, int ares_status, const unsigned char* message, std::size_t length) {
  Answer answer;
  if (ares_status == ARES_ENODATA || ares_status == ARES_ENOTFOUND) {
    answer.status = ares_status == ARES_ENODATA ? AnswerStatus::NoData : AnswerStatus::NxDomain;
    answer.ttl = read_message_ttls(message, message != nullptr ? length : 0).negative;
    return answer;
  }
  switch (ares_status) {
    case ARES_SUCCESS: break;
    case ARES_ESERVFAIL: answer.status = AnswerStatus::ServFail; return answer;
    case ARES_EREFUSED: answer.status = AnswerStatus::Refused; return answer;
    case ARES_ETIMEOUT: answer.status = AnswerStatus::Timeout; return answer;
    case ARES_ECONNREFUSED: answer.status = AnswerStatus::Unreachable; return answer;
    case ARES_EFORMERR:
    case ARES_ENOTIMP:
    case ARES_EBADRESP: answer.status = AnswerStatus::Malformed; answer.detail = ares_strerror(ares_status); return answer;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: answer.status = AnswerStatus::Cancelled; return answer;
    default: answer.status = AnswerStatus::Failed; answer.detail = ares_strerror(ares_status); return answer;
  }
  if (message == nullptr || length == 0 || length > static_cast<std::size_t>(INT_MAX)) {
    answer.status = AnswerStatus::Malformed;
    answer.detail = "empty answer";
    return answer;
  }
  answer.status = AnswerStatus::Ok;
  const int len = static_cast<int>(length);
  switch (type) {
    case RecordType::A:
      parse_addresses<struct ares_addrttl>(answer, AF_INET, ares_parse_a_reply, message, len);
      break;
    case RecordType::Aaaa:
      parse_addresses<struct ares_addr6ttl>(answer, AF_INET6, ares_parse_aaaa_reply, message, len);
      break;
    case RecordType::Mx:
      parse_mx(answer, message, len);
      break;
  }
  return answer;
}

}  // namespace tern::dns
