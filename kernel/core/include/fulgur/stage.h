// The four things a Trainer can run, with Lightning's names ("fit", "validate", ...).
#pragma once

#include <string_view>

namespace fulgur {

enum class Stage { Fit, Validate, Test, Predict };

constexpr std::string_view to_string(Stage stage) {
  switch (stage) {
    case Stage::Fit:
      return "fit";
    case Stage::Validate:
      return "validate";
    case Stage::Test:
      return "test";
    case Stage::Predict:
      return "predict";
  }
  return "unknown";
}

}  // namespace fulgur
