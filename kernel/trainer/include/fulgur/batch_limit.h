// "int or float" options such as limit_train_batches and val_check_interval.
//
// Lightning reads an int as a number of batches and a float as a fraction of the epoch.
// C++ keeps that: `limit = 2` is two batches, `limit = 0.25` is a quarter of the epoch and
// `limit = 1.0` is all of it. On a command line "2" is a count and "0.5" or "1.0" a fraction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fulgur {

class BatchLimit {
 public:
  /// The whole epoch (Lightning's 1.0).
  BatchLimit() = default;
  BatchLimit(int count) : BatchLimit(static_cast<int64_t>(count)) {}  // NOLINT: implicit by design
  BatchLimit(int64_t count);                                          // NOLINT
  BatchLimit(double fraction);                                        // NOLINT

  /// Parses "2" as a count and "0.5" / "1.0" / "1e-1" as a fraction; throws fulgur::Error naming
  /// `option` when the text is neither.
  static BatchLimit parse(const std::string& text, const std::string& option);
  /// The same, throwing std::invalid_argument with what was expected (the options reader's form).
  static BatchLimit parse_text(const std::string& text);

  bool is_count() const { return count_.has_value(); }
  int64_t count() const { return *count_; }
  double fraction() const { return fraction_; }

  /// Number of batches this limit allows out of `available` (unknown for a loader of unknown
  /// length: then a count is taken as is, and a fraction other than 1.0 is an error).
  /// Returns -1 for "all of an unknown number".
  int64_t resolve(std::optional<int64_t> available, const std::string& option) const;

  std::string to_string() const;

 private:
  std::optional<int64_t> count_;
  double fraction_ = 1.0;
};

}  // namespace fulgur
