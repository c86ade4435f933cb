// Options declared once: each option is one line — type, name, default, help, checks — and
// from that line come LibTorch's fluent setter and getter, the `NAME:k=v` reader with its error
// messages, the printed spec, the checks and the help table.
//
//   struct EarlyStoppingOptions : fulgur::DeclaredOptions<EarlyStoppingOptions> {
//     FULGUR_OPTIONS_OF("early_stopping");
//     FULGUR_OPTION(std::string, monitor, "", "The metric to watch, as logged.", fulgur::required());
//     FULGUR_OPTION(int64_t, patience, 3, "Checks without improvement before stopping.", fulgur::at_least(0));
//   };
//
//   auto options = EarlyStoppingOptions().monitor("val_loss").patience(5);   // set, as LibTorch's
//   int64_t patience = options.patience();                                  // read
//   options.patience() = 7;                                                 // or assign
//   auto parsed = EarlyStoppingOptions::parse({{"monitor", "val_loss"}});   // from text, checked
//   trainer.add_plugin(options.spec());                                      // to text
//
// An option is a member object (fulgur::Option) that knows its place in the struct, so the struct
// can list its options without naming them again. The old field style, `options.patience = 5`,
// still compiles for one release with a deprecation warning.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fulgur/option_text.h"
#include "fulgur/plugin_spec.h"

namespace fulgur {

/// A check of one option's value: "" when the value is fine, else what is wrong with it
/// ("must be >= 0, got -1"), which the reader puts after "option 'name' ".
template <typename T>
using OptionCheck = std::function<std::string(const T&)>;

/// The value must not be empty (a string, a list).
struct RequiredCheck {
  template <typename T>
  std::string operator()(const T& value) const {
    return value.empty() ? "is required" : "";
  }
};
inline RequiredCheck required() { return {}; }

/// A string among `choices`: "expects min or max, got 'mid'".
OptionCheck<std::string> one_of(std::vector<std::string> choices);
/// A number >= bound (an optional's value, when set).
struct AtLeast {
  double bound;
  bool strict;
  template <typename T>
  std::string operator()(const T& value) const {
    if constexpr (std::is_arithmetic_v<T>) {
      const bool ok = strict ? static_cast<double>(value) > bound : static_cast<double>(value) >= bound;
      return ok ? "" : describe(static_cast<double>(value));
    } else {
      return value ? (*this)(*value) : "";  // std::optional: unset is fine
    }
  }
  std::string describe(double value) const;
};
inline AtLeast at_least(double bound) { return {bound, false}; }
inline AtLeast greater_than(double bound) { return {bound, true}; }

/// What every declared option says about itself, whatever its type: how DeclaredOptions reads,
/// prints, checks and documents its options without naming them.
class OptionField {
 public:
  virtual ~OptionField() = default;
  virtual const char* name() const = 0;
  virtual const char* help() const = 0;
  /// "bool", "int", "float", "string", "list", "map", or "" for an option set in code only.
  virtual const char* type_name() const = 0;
  virtual bool has_text() const = 0;
  /// The value as text (has_text() only).
  virtual std::string text() const = 0;
  /// Sets the value from text; throws std::invalid_argument saying what was expected.
  virtual void set_text(const std::string& text) = 0;
  /// "" when the value passes the option's checks, else what is wrong.
  virtual std::string problem() const = 0;
};

/// What a declaration line says about an option besides its type and default.
template <typename T>
struct OptionInfo {
  const char* name;
  const char* help;
  std::vector<OptionCheck<T>> checks;

  OptionInfo(const char* name_, const char* help_) : name(name_), help(help_) {}
  template <typename... Checks>
  OptionInfo(const char* name_, const char* help_, Checks... checks_)
      : name(name_), help(help_), checks{OptionCheck<T>(std::move(checks_))...} {}
};

template <typename Owner>
class DeclaredOptions;

/// One option of `Owner`: `options.name(value)` sets it and returns the options (LibTorch's
/// chaining), `options.name()` reads it (or assigns it: `options.name() = value`).
template <typename Owner, typename T>
class Option final : public OptionField {
 public:
  Option(Owner* owner, const OptionInfo<T>* info, T initial) : info_(info), value_(std::move(initial)) {
    DeclaredOptions<Owner>& base = *owner;
    offset_ =
        reinterpret_cast<const char*>(static_cast<const OptionField*>(this)) - reinterpret_cast<const char*>(&base);
    base.add_field(offset_);
  }
  Option(const Option& other) = default;
  Option& operator=(const Option& other) {
    value_ = other.value_;  // the place and the declaration are those of this struct's layout
    return *this;
  }

  /// Sets the value; returns the options, so that setters chain.
  Owner& operator()(T value) {
    value_ = std::move(value);
    return owner();
  }
  const T& operator()() const { return value_; }
  T& operator()() { return value_; }

  [[deprecated("options are set as LibTorch's now: options.name(value) or options.name() = value")]] Option& operator=(
      T value) {
    value_ = std::move(value);
    return *this;
  }
  [[deprecated("options are read as LibTorch's now: options.name()")]] operator const T&()
      const {  // NOLINT: the old field style, for one release
    return value_;
  }

  const char* name() const override { return info_->name; }
  const char* help() const override { return info_->help; }
  const char* type_name() const override {
    if constexpr (has_option_text<T>::value) {
      return OptionText<T>::type;
    } else {
      return "";
    }
  }
  bool has_text() const override { return has_option_text<T>::value; }
  std::string text() const override {
    if constexpr (has_option_text<T>::value) {
      return OptionText<T>::print(value_);
    } else {
      return "";
    }
  }
  void set_text(const std::string& text) override {
    if constexpr (has_option_text<T>::value) {
      value_ = OptionText<T>::parse(text);
    } else {
      throw std::invalid_argument("a value set in code; it has no text form");
    }
  }
  std::string problem() const override {
    for (const auto& check : info_->checks) {
      std::string found = check(value_);
      if (!found.empty()) return found;
    }
    return "";
  }

 private:
  Owner& owner() {
    DeclaredOptions<Owner>* base =
        reinterpret_cast<DeclaredOptions<Owner>*>(reinterpret_cast<char*>(static_cast<OptionField*>(this)) - offset_);
    return static_cast<Owner&>(*base);
  }

  const OptionInfo<T>* info_;
  std::ptrdiff_t offset_ = 0;
  T value_;
};

namespace detail {
/// The reader's and the printer's work, once for every options struct.
void read_option_fields(const std::vector<OptionField*>& fields, const std::string& owner, const PluginOptions& text);
void check_option_fields(const std::vector<const OptionField*>& fields, const std::string& owner);
std::string option_help_table(const std::vector<const OptionField*>& fields);
}  // namespace detail

/// The base of an options struct: the list of its options, and what comes from it.
template <typename Owner>
class DeclaredOptions {
 public:
  /// The options struct itself (what FULGUR_OPTION's setters return).
  using options_type = Owner;

  /// Every option, in declaration order.
  std::vector<const OptionField*> fields() const {
    std::vector<const OptionField*> out;
    for (const std::ptrdiff_t offset : offsets_) {
      out.push_back(reinterpret_cast<const OptionField*>(reinterpret_cast<const char*>(this) + offset));
    }
    return out;
  }
  std::vector<OptionField*> fields() {
    std::vector<OptionField*> out;
    for (const std::ptrdiff_t offset : offsets_) {
      out.push_back(reinterpret_cast<OptionField*>(reinterpret_cast<char*>(this) + offset));
    }
    return out;
  }

  /// Options from text: every key names an option (else an error listing those there are), every
  /// value reads as its type, every option passes its checks.
  static Owner parse(const PluginOptions& text) {
    Owner options;
    detail::read_option_fields(options.fields(), Owner::options_owner(), text);
    options.check();
    return options;
  }
  /// Throws PluginError naming the first option whose value fails its checks.
  void check() const { detail::check_option_fields(fields(), Owner::options_owner()); }
  /// The plugin with these options, as a spec (`trainer.add_plugin(options.spec())`); every option
  /// with a text form is printed.
  PluginSpec spec() const {
    PluginSpec spec{Owner::options_name(), {}};
    for (const OptionField* field : fields()) {
      if (field->has_text()) spec.options[field->name()] = field->text();
    }
    return spec;
  }
  /// A Markdown table of the options: name, type, default, help.
  static std::string help_table() {
    const Owner defaults;
    return detail::option_help_table(defaults.fields());
  }

  DeclaredOptions() = default;  // public: `EarlyStoppingOptions{}` stays an aggregate's spelling
  DeclaredOptions(const DeclaredOptions&) = default;
  DeclaredOptions& operator=(const DeclaredOptions&) { return *this; }  // same layout, same offsets

 private:
  template <typename, typename>
  friend class Option;
  // Called by each option as it is constructed, in declaration order. A copy takes the list
  // with the rest (its options are copied, not constructed anew).
  void add_field(std::ptrdiff_t offset) { offsets_.push_back(offset); }

  std::vector<std::ptrdiff_t> offsets_;
};

}  // namespace fulgur

/// Names the options struct: the plugin it configures (its spec() name and error messages).
#define FULGUR_OPTIONS_OF(plugin)                      \
  static const char* options_name() { return plugin; } \
  static std::string options_owner() { return std::string("plugin '") + plugin + "'"; }

/// Declares one option: type, name, default, help, and any checks. A type with a comma gets a
/// `using` alias first; a default with a comma goes in parentheses: (Schedule{{0, 1}}).
#define FULGUR_OPTION(T, NAME, DEFAULT, HELP, ...)                               \
  ::fulgur::Option<options_type, T> NAME {                                       \
    this,                                                                        \
        [] {                                                                     \
          static const ::fulgur::OptionInfo<T> info(#NAME, HELP, ##__VA_ARGS__); \
          return &info;                                                          \
        }(),                                                                     \
        DEFAULT                                                                  \
  }
