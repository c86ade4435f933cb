#include "fulgur/hparams.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fulgur/error.h"

namespace fulgur {
namespace {

// The shortest of %.15g / %.16g / %.17g that reads back to the same double.
std::string exact_double(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char text[40];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  std::string out(text);
  // YAML (and Python) read "1e-07" and "3" as numbers of other types: keep it a float.
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  if (out.find('e') != std::string::npos && out.find('.') == std::string::npos) {
    out.insert(out.find('e'), ".0");
  }
  return out;
}

// A YAML scalar for a string: plain where YAML reads it back as that string, else double-quoted.
std::string yaml_string(const std::string& text) {
  static const char* const kReserved[] = {"",      "~",     "null", "Null", "NULL", "true", "True", "TRUE", "false",
                                          "False", "FALSE", "yes",  "Yes",  "YES",  "no",   "No",   "NO",   "on",
                                          "On",    "ON",    "off",  "Off",  "OFF",  "y",    "Y",    "n",    "N"};
  bool plain = true;
  for (const char* word : kReserved) plain = plain && text != word;
  if (plain) {
    const char first = text[0];
    plain = !std::isspace(static_cast<unsigned char>(first)) &&
            !std::isspace(static_cast<unsigned char>(text.back())) &&
            std::string("-?:,[]{}#&*!|>'\"%@`.+0123456789").find(first) == std::string::npos;
    for (const char c : text) {
      if (c == ':' || c == '#' || c == ',' || c == '[' || c == ']' || c == '{' || c == '}' || c == '"' || c == '\'' ||
          c == '\\' || static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        plain = false;
      }
    }
  }
  if (plain) return text;
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;  // UTF-8 passes through: YAML's double-quoted scalars take it as it is
        }
    }
  }
  return out + "\"";
}

}  // namespace

HParamValue::HParamValue(const HParams& map) : value_(map.values()) {}

const char* HParamValue::kind_name() const {
  static const char* const kNames[] = {"null", "bool", "int", "double", "string", "list", "map"};
  return kNames[value_.index()];
}

void HParamValue::wrong_type(const char* asked) const {
  throw Error(std::string("asked for ") + asked + " but it holds the " + kind_name() + " " + to_string());
}

int64_t HParamValue::integer() const {
  if (kind() != Kind::Int) wrong_type("an integer");
  return std::get<int64_t>(value_);
}

double HParamValue::number() const {
  if (kind() == Kind::Int) return static_cast<double>(std::get<int64_t>(value_));
  if (kind() != Kind::Double) wrong_type("a number");
  return std::get<double>(value_);
}

const HParamValue::List& HParamValue::list() const {
  if (kind() != Kind::List) wrong_type("a list");
  return std::get<List>(value_);
}

const HParamValue::Map& HParamValue::map() const {
  if (kind() != Kind::Map) wrong_type("a map");
  return std::get<Map>(value_);
}

std::string HParamValue::to_string() const {
  switch (kind()) {
    case Kind::String:
      return "\"" + std::get<std::string>(value_) + "\"";
    default:
      return to_yaml();
  }
}

std::string HParamValue::to_yaml() const {
  switch (kind()) {
    case Kind::Null:
      return "null";
    case Kind::Bool:
      return std::get<bool>(value_) ? "true" : "false";
    case Kind::Int:
      return std::to_string(std::get<int64_t>(value_));
    case Kind::Double:
      return exact_double(std::get<double>(value_));
    case Kind::String:
      return yaml_string(std::get<std::string>(value_));
    case Kind::List: {
      std::string out = "[";
      for (const auto& element : std::get<List>(value_)) out += (out.size() > 1 ? ", " : "") + element.to_yaml();
      return out + "]";
    }
    case Kind::Map: {
      std::string out = "{";
      for (const auto& [key, element] : std::get<Map>(value_)) {
        out += (out.size() > 1 ? ", " : "") + yaml_string(key) + ": " + element.to_yaml();
      }
      return out + "}";
    }
  }
  return "null";
}

bool HParamValue::operator==(const HParamValue& other) const {
  // Doubles compare by bits, so NaN equals NaN: "round-trips bit for bit" is what is asked.
  if (kind() == Kind::Double && other.kind() == Kind::Double) {
    const double a = std::get<double>(value_), b = std::get<double>(other.value_);
    return std::memcmp(&a, &b, sizeof a) == 0;
  }
  return value_ == other.value_;
}

const HParamValue& HParams::at(const std::string& key) const {
  const auto found = values_.find(key);
  if (found == values_.end()) {
    throw Error("no hyper-parameter '" + key + "'; saved are: " + (values_.empty() ? "none" : key_list()));
  }
  return found->second;
}

void HParams::wrong_type(const std::string& key, const char* what) const {
  throw Error("hyper-parameter '" + key + "': " + what);
}

void HParams::update(const HParams& other) {
  for (const auto& [key, value] : other) values_[key] = value;
}

std::string HParams::key_list() const {
  std::string out;
  for (const auto& [key, value] : values_) out += (out.empty() ? "" : ", ") + key;
  return out;
}

std::string HParams::to_yaml() const {
  if (values_.empty()) return "{}\n";
  std::string out;
  for (const auto& [key, value] : values_) out += yaml_string(key) + ": " + value.to_yaml() + "\n";
  return out;
}

}  // namespace fulgur
