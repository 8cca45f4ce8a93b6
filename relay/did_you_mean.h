#pragma once
// did_you_mean: the candidate closest to a misspelt word by edit distance
// (insertions, deletions, substitutions and swaps of neighbours each cost 1),
// for "unknown key submission.listn (did you mean submission.listen?)".
// Returns nothing when no candidate is close enough to be a plausible typo.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::relay {

// Case-insensitive. Close enough: at most max(2, word.size() / 4) edits.
std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Optimal string alignment distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace tern::relay
