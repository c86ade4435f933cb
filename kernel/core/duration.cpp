#include "fulgur/duration.h"

#include <sstream>
#include <vector>

#include "fulgur/error.h"

namespace fulgur {

double parse_duration(const std::string& text, const std::string& what) {
  const auto refuse = [&] {
    return Error(what + " '" + text + "' is not DD:HH:MM:SS (or HH:MM:SS, MM:SS) or a number of seconds");
  };
  std::vector<double> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ':')) {
    std::size_t used = 0;
    double value = -1;
    try {
      value = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || !(value >= 0)) throw refuse();
    parts.push_back(value);
  }
  if (parts.empty() || parts.size() > 4 || (!text.empty() && text.back() == ':')) throw refuse();
  const double units[] = {1, 60, 3600, 86400};  // from the right: seconds, minutes, hours, days
  double seconds = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) seconds += parts[parts.size() - 1 - i] * units[i];
  return seconds;
}

}  // namespace fulgur
