// fulgur::HParams: a Module's hyper-parameters, typed as Python keeps them.
//
//   save_hyperparameters({{"lr", 1e-7}, {"hidden", 128}, {"layers", {64, 32}}, {"act", "relu"}});
//   double lr = hparams().get<double>("lr");             // 1e-7, bit for bit
//   auto layers = hparams().get<std::vector<int64_t>>("layers");
//
// A value is null, a bool, an int (int64), a double, a string, a list or a nested map
// (HParams{{...}}). Ints and doubles stay apart: 128 is an int, 128.0 a double. Checkpoints store
// them as Python's torch.load sees them (int, float, str, list, dict) and hparams.yaml as YAML.
// Asking for a missing key or the wrong type is a fulgur::Error naming the key, what is there and
// what was asked for.
#pragma once

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/config.hpp>

namespace fulgur {

class HParams;

class BOOST_SYMBOL_VISIBLE HParamValue {
  template <typename T>
  struct is_vector : std::false_type {};
  template <typename E>
  struct is_vector<std::vector<E>> : std::true_type {};

 public:
  using List = std::vector<HParamValue>;
  using Map = std::map<std::string, HParamValue>;
  enum class Kind { Null, Bool, Int, Double, String, List, Map };

  HParamValue() = default;
  HParamValue(bool value) : value_(value) {}  // NOLINT: values convert implicitly, as in Python
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  HParamValue(T value) : value_(static_cast<int64_t>(value)) {}  // NOLINT
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  HParamValue(T value) : value_(static_cast<double>(value)) {}                      // NOLINT
  HParamValue(const char* value) : value_(std::string(value)) {}                    // NOLINT: not a bool
  HParamValue(std::string value) : value_(std::move(value)) {}                      // NOLINT
  HParamValue(std::initializer_list<HParamValue> values) : value_(List(values)) {}  // NOLINT: a list
  HParamValue(List values) : value_(std::move(values)) {}                           // NOLINT
  template <typename T, std::enable_if_t<std::is_constructible_v<HParamValue, T>, int> = 0>
  HParamValue(const std::vector<T>& values) : value_(List(values.begin(), values.end())) {}  // NOLINT
  HParamValue(const HParams& map);                                                           // NOLINT: a nested map

  Kind kind() const { return static_cast<Kind>(value_.index()); }
  /// "null", "bool", "int", "double", "string", "list" or "map".
  const char* kind_name() const;
  bool is_null() const { return kind() == Kind::Null; }

  /// The value as T: bool, any integer type, double/float (an int widens to a double), std::string,
  /// std::vector<T>, HParams or HParamValue::List. Throws fulgur::Error naming what it holds.
  template <typename T>
  T as() const;

  /// The value as T where the type is clear: `double lr = hparams().at("lr");` (as<T>(), for
  /// numbers, bool, std::string, std::vector and HParams).
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_same_v<T, std::string> ||
                                             std::is_same_v<T, HParams> || is_vector<T>::value,
                                         int> = 0>
  operator T() const {  // NOLINT: implicit by design, as Python's values are
    return as<T>();
  }

  const List& list() const;
  const Map& map() const;

  /// A short, readable rendering: 0.01, 128, true, "relu", [64, 32], {a: 1}.
  std::string to_string() const;
  /// The value as YAML (flow style for lists and maps); strings quoted where YAML needs it, doubles
  /// with the digits that read back to the same bits.
  std::string to_yaml() const;

  bool operator==(const HParamValue& other) const;
  bool operator!=(const HParamValue& other) const { return !(*this == other); }

 private:
  [[noreturn]] void wrong_type(const char* asked) const;
  int64_t integer() const;
  double number() const;

  std::variant<std::monostate, bool, int64_t, double, std::string, List, Map> value_;
};

class BOOST_SYMBOL_VISIBLE HParams {
 public:
  using Map = HParamValue::Map;

  HParams() = default;
  HParams(std::initializer_list<std::pair<const std::string, HParamValue>> values) : values_(values) {}
  explicit HParams(Map values) : values_(std::move(values)) {}

  /// The value under `key` as T (see HParamValue::as). Throws fulgur::Error for a missing key
  /// (listing the keys there are) or another type (naming both).
  template <typename T>
  T get(const std::string& key) const {
    const HParamValue& value = at(key);
    try {
      return value.as<T>();
    } catch (const std::exception& error) {
      wrong_type(key, error.what());
    }
  }
  /// The value under `key` as T, or `fallback` when there is none.
  template <typename T>
  T get(const std::string& key, T fallback) const {
    return contains(key) ? get<T>(key) : fallback;
  }
  const HParamValue& at(const std::string& key) const;
  bool contains(const std::string& key) const { return values_.count(key) > 0; }
  void set(const std::string& key, HParamValue value) { values_[key] = std::move(value); }
  /// Adds or replaces each of `other`'s values (load_from_checkpoint's overrides).
  void update(const HParams& other);

  bool empty() const { return values_.empty(); }
  std::size_t size() const { return values_.size(); }
  Map::const_iterator begin() const { return values_.begin(); }
  Map::const_iterator end() const { return values_.end(); }
  const Map& values() const { return values_; }
  /// "hidden, lr" (for error messages).
  std::string key_list() const;

  /// A YAML document of one mapping (Lightning's hparams.yaml); "{}" when empty.
  std::string to_yaml() const;

  bool operator==(const HParams& other) const { return values_ == other.values_; }
  bool operator!=(const HParams& other) const { return !(*this == other); }

 private:
  [[noreturn]] void wrong_type(const std::string& key, const char* what) const;

  Map values_;
};

// --- HParamValue::as ---------------------------------------------------------------------------

template <typename T>
T HParamValue::as() const {
  if constexpr (std::is_same_v<T, HParamValue>) {
    return *this;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (kind() != Kind::Bool) wrong_type("a bool");
    return std::get<bool>(value_);
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(integer());
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(number());
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (kind() != Kind::String) wrong_type("a string");
    return std::get<std::string>(value_);
  } else if constexpr (std::is_same_v<T, List>) {
    return list();
  } else if constexpr (std::is_same_v<T, HParams>) {
    return HParams(map());
  } else {
    // std::vector<E>: each element as E.
    using Element = typename T::value_type;
    T out;
    for (const auto& element : list()) out.push_back(element.as<Element>());
    return out;
  }
}

}  // namespace fulgur
