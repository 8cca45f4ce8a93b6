#include "dns/mx_order.h"

#include <algorithm>
#include <string>
#include <unordered_set>

namespace tern::dns {

std::vector<MxRecord> order_mx(std::vector<MxRecord> records, std::mt19937_64& rng) {
  std::stable_sort(records.begin(), records.end(),
                   [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });
  std::unordered_set<std::string> seen;
  std::vector<MxRecord> out;
  out.reserve(records.size());
  for (auto& r : records) {
    if (seen.insert(r.host).second) out.push_back(std::move(r));
  }
  for (auto first = out.begin(); first != out.end();) {
    auto last = std::find_if(first, out.end(), [&](const MxRecord& r) { return r.preference != first->preference; });
    std::shuffle(first, last, rng);
    first = last;
  }
  return out;
}

}  // namespace tern::dns
