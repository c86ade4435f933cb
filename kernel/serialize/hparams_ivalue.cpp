#include "hparams_ivalue.h"

#include "fulgur/checkpoint.h"
#include "fulgur/error.h"

namespace fulgur::detail {

c10::IValue to_ivalue(const HParamValue& value) {
  using Kind = HParamValue::Kind;
  switch (value.kind()) {
    case Kind::Null:
      return c10::IValue();
    case Kind::Bool:
      return c10::IValue(value.as<bool>());
    case Kind::Int:
      return c10::IValue(value.as<int64_t>());
    case Kind::Double:
      return c10::IValue(value.as<double>());
    case Kind::String:
      return c10::IValue(value.as<std::string>());
    case Kind::List: {
      c10::impl::GenericList list(c10::AnyType::get());
      for (const auto& element : value.list()) list.push_back(to_ivalue(element));
      return list;
    }
    case Kind::Map: {
      StateDict map = make_state_dict();
      for (const auto& [key, element] : value.map()) map.insert(key, to_ivalue(element));
      return map;
    }
  }
  return c10::IValue();
}

c10::IValue to_ivalue(const HParams& values) {
  StateDict map = make_state_dict();
  for (const auto& [key, value] : values) map.insert(key, to_ivalue(value));
  return map;
}

namespace {

// Nested lists and dicts are walked once per level; a file's nesting is bounded before it is
// unpickled (pickle_scanner.h), and this bound holds for values made any other way.
constexpr int kMaxDepth = 256;

HParams map_from_ivalue(const c10::IValue& value, const std::string& where, int depth);

HParamValue value_from_ivalue(const c10::IValue& value, const std::string& where, int depth) {
  if (depth > kMaxDepth) throw Error(where + " nests deeper than " + std::to_string(kMaxDepth) + " levels");
  if (value.isNone()) return {};
  if (value.isBool()) return value.toBool();
  if (value.isInt()) return value.toInt();
  if (value.isDouble()) return value.toDouble();
  if (value.isString()) return value.toStringRef();
  if (value.isList() || value.isTuple()) {
    HParamValue::List list;
    auto add = [&](const c10::IValue& element) {
      list.push_back(value_from_ivalue(element, where + "[" + std::to_string(list.size()) + "]", depth + 1));
    };
    if (value.isList()) {
      for (const auto& element : value.toListRef()) add(element);
    } else {
      for (const auto& element : value.toTupleRef().elements()) add(element);
    }
    return list;
  }
  if (value.isGenericDict()) return HParamValue(map_from_ivalue(value, where, depth + 1));
  throw Error(where + " is a " + value.tagKind() + ", which no hyper-parameter can hold");
}

HParams map_from_ivalue(const c10::IValue& value, const std::string& where, int depth) {
  if (!value.isGenericDict()) throw Error(where + " should be a dictionary but is a " + value.tagKind());
  HParams out;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString())
      throw Error(where + " has a key that is a " + entry.key().tagKind() + ", not a string");
    const std::string key = entry.key().toStringRef();
    out.set(key, value_from_ivalue(entry.value(), where + "." + key, depth));
  }
  return out;
}

}  // namespace

HParamValue hparam_from_ivalue(const c10::IValue& value, const std::string& where) {
  return value_from_ivalue(value, where, 0);
}

HParams hparams_from_ivalue(const c10::IValue& value, const std::string& where) {
  return map_from_ivalue(value, where, 0);
}

}  // namespace fulgur::detail
