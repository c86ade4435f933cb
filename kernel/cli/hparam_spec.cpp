#include "fulgur/hparam_spec.h"

#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "fulgur/option_text.h"

namespace fulgur {
namespace {

const char* kind_name(HParamValue::Kind kind) {
  switch (kind) {
    case HParamValue::Kind::Null:
      return "null";
    case HParamValue::Kind::Bool:
      return "bool";
    case HParamValue::Kind::Int:
      return "int";
    case HParamValue::Kind::Double:
      return "double";
    case HParamValue::Kind::String:
      return "string";
    case HParamValue::Kind::List:
      return "list";
    case HParamValue::Kind::Map:
      return "map";
  }
  return "value";
}

// A YAML node as the closest HParamValue: YAML's core schema (int, float, bool, null, string).
HParamValue infer(const YAML::Node& node) {
  if (node.IsNull()) return {};
  if (node.IsSequence()) {
    HParamValue::List items;
    for (const auto& item : node) items.push_back(infer(item));
    return items;
  }
  if (node.IsMap()) {
    HParamValue::Map entries;
    for (const auto& entry : node) entries[entry.first.as<std::string>()] = infer(entry.second);
    return HParams(entries);
  }
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: a string, whatever it looks like
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  try {
    return OptionText<int64_t>::parse(text);
  } catch (const std::invalid_argument&) {
  }
  try {
    return OptionText<double>::parse(text);
  } catch (const std::invalid_argument&) {
  }
  return text;
}

}  // namespace

HParamSpec HParamSpec::required(std::string name, HParamValue::Kind kind, std::string help) {
  HParamSpec spec(std::move(name), HParamValue(), std::move(help));
  spec.kind = kind;
  spec.is_required = true;
  return spec;
}

HParamSpec HParamSpec::optional(std::string name, HParamValue::Kind kind, std::string help) {
  HParamSpec spec(std::move(name), HParamValue(), std::move(help));
  spec.kind = kind;
  return spec;
}

std::string HParamSpec::type_name() const { return kind_name(kind); }

HParamValue HParamSpec::parse(const std::string& text) const {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument("a " + type_name() + ", got '" + text + "' (not valid YAML: " + error.msg + ")");
  }
  const HParamValue value = infer(node);
  const auto wrong = [&]() -> std::invalid_argument {
    return std::invalid_argument("a " + type_name() + ", got '" + text + "'" +
                                 (value.is_null() ? "" : std::string(" (a ") + value.kind_name() + ")"));
  };
  if (value.is_null()) {
    if (is_required) throw std::invalid_argument("a " + type_name() + ": the value is required");
    return default_value;  // null: the default, as in the files --print_config writes
  }
  switch (kind) {
    case HParamValue::Kind::Null:
      return value;  // declared with a null default and no type: any value
    case HParamValue::Kind::String:
      if (!node.IsScalar()) throw wrong();
      return node.Scalar();
    case HParamValue::Kind::Double:
      if (value.kind() == HParamValue::Kind::Int) return static_cast<double>(value.as<int64_t>());
      if (value.kind() != HParamValue::Kind::Double) throw wrong();
      return value;
    default:
      if (value.kind() != kind) throw wrong();
      return value;
  }
}

}  // namespace fulgur
