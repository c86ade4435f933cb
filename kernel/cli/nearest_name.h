// The candidate nearest to a mistyped name (by edit distance), for "did you mean" in the errors
// of config files and command lines. Private to the library.
#pragma once

#include <string>
#include <vector>

namespace fulgur {

/// The candidate with the fewest single-character edits from `name`; "" when there are none.
std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace fulgur
