#pragma once
// Orders MX records the way RFC 5321 §5.1 asks: by preference, lowest first,
// with records of equal preference in random order so load spreads over them.
// A host listed twice keeps its lowest preference only. It resolves nothing
// and cannot fail; the caller decides about null MX and the record cap.

#include <random>
#include <vector>

#include "dns/answer.h"

namespace tern::dns {

// Host names are compared as given: normalize them first (names.h).
std::vector<MxRecord> order_mx(std::vector<MxRecord> records, std::mt19937_64& rng);

}  // namespace tern::dns
