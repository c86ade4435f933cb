// How an option's value reads from and prints to text: the `NAME:k=v` spec of a plugin, a
// command line, a config file. One specialization of OptionText<T> per value type:
//
//   bool       true / false (also 1, yes, on / 0, no, off)
//   integers   42
//   double     0.25, 1e-3, nan, inf (printed with the digits that read back to the same bits)
//   string     as it is
//   optional   the value, or none (also null and the empty text)
//   vector     items separated by '/': 0.05/0.01
//   map        key:value pairs separated by '/': 0:1/4:2
//
// parse() throws std::invalid_argument with what was expected ("an integer, got 'x'"); the
// options reader puts the plugin and option names in front.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace fulgur {

template <typename T, typename = void>
struct OptionText;  // no text form: such an option is set in code only

template <typename T, typename = void>
struct has_option_text : std::false_type {};
template <typename T>
struct has_option_text<T, std::void_t<decltype(OptionText<T>::parse(std::string()))>> : std::true_type {};

namespace detail {
bool parse_bool(const std::string& text);
int64_t parse_int(const std::string& text);
double parse_double(const std::string& text);
std::string print_double(double value);
std::vector<std::string> split_text(const std::string& text, char separator);
}  // namespace detail

template <>
struct OptionText<bool> {
  static constexpr const char* type = "bool";
  static bool parse(const std::string& text) { return detail::parse_bool(text); }
  static std::string print(bool value) { return value ? "true" : "false"; }
};

template <typename T>
struct OptionText<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static constexpr const char* type = "int";
  static T parse(const std::string& text) {
    const int64_t value = detail::parse_int(text);
    if constexpr (std::is_unsigned_v<T>) {
      if (value < 0) throw std::invalid_argument("a non-negative integer, got '" + text + "'");
    }
    return static_cast<T>(value);
  }
  static std::string print(T value) { return std::to_string(value); }
};

template <>
struct OptionText<double> {
  static constexpr const char* type = "float";
  static double parse(const std::string& text) { return detail::parse_double(text); }
  static std::string print(double value) { return detail::print_double(value); }
};

template <>
struct OptionText<std::string> {
  static constexpr const char* type = "string";
  static std::string parse(const std::string& text) { return text; }
  static std::string print(const std::string& value) { return value; }
};

template <typename T>
struct OptionText<std::optional<T>, std::enable_if_t<has_option_text<T>::value>> {
  static constexpr const char* type = OptionText<T>::type;
  static std::optional<T> parse(const std::string& text) {
    if (text.empty() || text == "none" || text == "None" || text == "null") return std::nullopt;
    return OptionText<T>::parse(text);
  }
  static std::string print(const std::optional<T>& value) { return value ? OptionText<T>::print(*value) : "none"; }
};

template <typename T>
struct OptionText<std::vector<T>, std::enable_if_t<has_option_text<T>::value>> {
  static constexpr const char* type = "list";
  static std::vector<T> parse(const std::string& text) {
    std::vector<T> values;
    if (text.empty()) return values;
    for (const auto& item : detail::split_text(text, '/')) values.push_back(OptionText<T>::parse(item));
    return values;
  }
  static std::string print(const std::vector<T>& values) {
    std::string text;
    for (std::size_t i = 0; i < values.size(); ++i) text += (i ? "/" : "") + OptionText<T>::print(values[i]);
    return text;
  }
};

template <typename K, typename V>
struct OptionText<std::map<K, V>, std::enable_if_t<has_option_text<K>::value && has_option_text<V>::value>> {
  static constexpr const char* type = "map";
  static std::map<K, V> parse(const std::string& text) {
    std::map<K, V> values;
    if (text.empty()) return values;
    for (const auto& item : detail::split_text(text, '/')) {
      const auto colon = item.find(':');
      if (colon == std::string::npos)
        throw std::invalid_argument("key:value pairs separated by '/', got '" + item + "'");
      const std::string key = item.substr(0, colon);
      if (!values.emplace(OptionText<K>::parse(key), OptionText<V>::parse(item.substr(colon + 1))).second) {
        throw std::invalid_argument("each key once, got '" + key + "' twice in '" + text + "'");
      }
    }
    return values;
  }
  static std::string print(const std::map<K, V>& values) {
    std::string text;
    for (const auto& [key, value] : values) {
      text += (text.empty() ? "" : "/") + OptionText<K>::print(key) + ":" + OptionText<V>::print(value);
    }
    return text;
  }
};

}  // namespace fulgur
