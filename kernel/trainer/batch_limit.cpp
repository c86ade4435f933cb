#include "fulgur/batch_limit.h"

#include <stdexcept>

#include <cmath>
#include <sstream>

#include "fulgur/error.h"

namespace fulgur {

BatchLimit::BatchLimit(int64_t count) : count_(count) {
  if (count < 0) {
    throw Error("a batch count must be >= 0, got " + std::to_string(count));
  }
}

BatchLimit::BatchLimit(double fraction) : fraction_(fraction) {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    std::ostringstream message;
    message << "a fraction of the epoch must be within [0.0, 1.0], got " << fraction;
    throw Error(message.str());
  }
}

BatchLimit BatchLimit::parse_text(const std::string& text) {
  const bool looks_fractional = text.find_first_of(".eE") != std::string::npos;
  try {
    std::size_t used = 0;
    if (looks_fractional) {
      const double value = std::stod(text, &used);
      if (used == text.size()) return BatchLimit(value);
    } else {
      const long long value = std::stoll(text, &used);
      if (used == text.size()) return BatchLimit(static_cast<int64_t>(value));
    }
  } catch (const Error& error) {
    throw std::invalid_argument(error.what());
  } catch (const std::exception&) {
    // fall through to the message below
  }
  throw std::invalid_argument("a batch count (e.g. 2) or a fraction of the epoch (e.g. 0.5), got '" + text + "'");
}

BatchLimit BatchLimit::parse(const std::string& text, const std::string& option) {
  try {
    return parse_text(text);
  } catch (const std::invalid_argument& error) {
    const std::string what = error.what();
    // The old wording: "expected a batch count ..." after the option's name.
    throw Error(option + ": " + (what.rfind("a batch count", 0) == 0 ? "expected " + what : what));
  }
}

int64_t BatchLimit::resolve(std::optional<int64_t> available, const std::string& option) const {
  if (count_) {
    return available ? std::min(*count_, *available) : *count_;
  }
  if (!available) {
    if (fraction_ == 1.0) return -1;
    throw Error(option + "=" + to_string() + " needs a data loader that knows its length; give a batch count instead");
  }
  return static_cast<int64_t>(std::floor(static_cast<double>(*available) * fraction_));
}

std::string BatchLimit::to_string() const {
  if (count_) return std::to_string(*count_);
  std::ostringstream text;
  text << fraction_;
  if (text.str().find_first_of(".e") == std::string::npos) text << ".0";
  return text.str();
}

}  // namespace fulgur
