// fulgur::HParamSpec: one hyper-parameter a Module or DataModule declares: its name, type,
// default and help. What LightningCLI reads from a Python class's __init__ signature, written out:
//
//   class DigitsNet : public fulgur::Module {
//    public:
//     static fulgur::HParamSpecs declare_hparams() {
//       return {{"hidden", 128, "Hidden units"},                  // an int (from the default)
//               {"lr", 3e-3, "Adam's learning rate"},             // a double
//               fulgur::HParamSpec::required("path", fulgur::HParamValue::Kind::String, "The CSV")};
//     }
//     explicit DigitsNet(const fulgur::HParams& hparams);        // what fulgur::cli builds it with
//   };
//
// fulgur::cli::run then takes them as --model.hidden 64, `model: {init_args: {hidden: 64}}` in a
// config file, lists them in --help, and hands the Module every value (defaults filled in), which
// save_hyperparameters records.
#pragma once

#include <string>
#include <vector>

#include "fulgur/hparams.h"

namespace fulgur {

struct HParamSpec {
  /// The type is the default's: 128 an int, 128.0 or 3e-3 a double, "relu" a string, {64, 32} a
  /// list, true a bool.
  HParamSpec(std::string name_, HParamValue default_, std::string help_)
      : name(std::move(name_)), kind(default_.kind()), default_value(std::move(default_)), help(std::move(help_)) {}

  /// A value every run must give (LightningCLI's argument without a default).
  static HParamSpec required(std::string name, HParamValue::Kind kind, std::string help);
  /// A value that may be left out: null unless given.
  static HParamSpec optional(std::string name, HParamValue::Kind kind, std::string help);

  std::string name;
  HParamValue::Kind kind;
  HParamValue default_value;  // null for required and optional ones
  std::string help;
  bool is_required = false;

  /// "int", "double", "string", ... (kind_name of the type).
  std::string type_name() const;
  /// `text` (YAML: 0.001, [64, 32], relu, null) as this parameter's type. An int widens to a
  /// double, any scalar reads as a string; otherwise throws std::invalid_argument saying what was
  /// expected and what was given.
  HParamValue parse(const std::string& text) const;
};

using HParamSpecs = std::vector<HParamSpec>;

}  // namespace fulgur
