// Modules and DataModules registered by name, for fulgur::cli and the `fulgur` command:
//
//   FULGUR_REGISTER_MODULE(digits::DigitsNet)            // at namespace scope, in any .cpp
//   FULGUR_REGISTER_DATAMODULE(digits::DigitsDataModule)
//
// A registered class is built from its declared hyper-parameters (`static fulgur::HParamSpecs
// declare_hparams()`, fulgur/hparam_spec.h) through a constructor taking `const fulgur::HParams&`
// (or its default constructor when it declares none). It is found by its name as registered
// ("digits::DigitsNet"), in Python's spelling ("digits.DigitsNet") or by its last part
// ("DigitsNet") when that is unique.
//
// In a shared library (a "module library") add, once:
//
//   FULGUR_EXPORT_MODULES()
//
// The `fulgur` command then finds the library in the plugin folders (--plugin-dir,
// FULGUR_PLUGIN_PATH, the installed and build-tree plugin folders), checks its ABI tag as it
// does a plugin's, and loads it when a class is asked for that the program does not know.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <typeinfo>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "fulgur/data_module.h"
#include "fulgur/hparam_spec.h"
#include "fulgur/module.h"
#include "fulgur/plugin_export.h"
#include "fulgur/trainer.h"

namespace fulgur::cli {

/// LightningCLI's subcommands.
enum class Subcommand { Fit, Validate, Test, Predict };

/// What a subcommand gave back: validate's and test's metrics, predict's batches.
struct RunResult {
  std::map<std::string, double> metrics;
  std::vector<std::vector<torch::Tensor>> predictions;
};

/// Builds what a Module's configure_optimizers returns, for a Module built with an optimizer:
/// section (fulgur/optimizer_by_name.h).
using OptimizerFactory = std::function<OptimizerConfig(Module& module)>;

struct ModuleClass {
  std::string name;
  HParamSpecs hparams;
  /// false for a class that leaves configure_optimizers to the optimizer: section.
  bool writes_configure_optimizers = true;
  /// Builds the Module from every declared value; with `optimizers`, its configure_optimizers
  /// returns what they build instead of its own.
  std::function<std::shared_ptr<Module>(const HParams& hparams, OptimizerFactory optimizers)> make;
  /// Runs a subcommand on a Module this class built (the Trainer's templates see the class).
  std::function<RunResult(Trainer& trainer, Module& module, DataModule* data, Subcommand subcommand,
                          const std::string& ckpt_path)>
      run;
};

struct DataModuleClass {
  std::string name;
  HParamSpecs hparams;
  std::function<std::shared_ptr<DataModule>(const HParams& hparams)> make;
};

/// The classes a program knows: those registered in it, then those of the module libraries it
/// loaded. One per process.
class ComponentRegistry {
 public:
  static ComponentRegistry& instance();

  void add(ModuleClass module_class);
  void add(DataModuleClass data_class);

  /// The class `name` names, loading the module libraries in `search_path` if the program has
  /// none by that name. Throws fulgur::Error naming the classes there are, the nearest name and
  /// the folders searched.
  const ModuleClass& module(const std::string& name, const std::vector<std::string>& search_path);
  const DataModuleClass& data_module(const std::string& name, const std::vector<std::string>& search_path);

  /// Loads every module library of `search_path` not loaded yet (a library exporting
  /// fulgur_modules_abi); one built for another ABI is skipped with a warning.
  void load_libraries(const std::vector<std::string>& search_path);

  /// Whether the program registered a class by exactly this name (no library is loaded).
  bool knows_module(const std::string& name) const;
  bool knows_data_module(const std::string& name) const;

  std::vector<std::string> module_names() const;
  std::vector<std::string> data_module_names() const;

 private:
  ComponentRegistry() = default;
  template <typename Class>
  const Class* find(const std::deque<Class>& classes, const std::string& name) const;

  // Deques: a library loaded later adds classes without moving those a caller holds.
  std::deque<ModuleClass> modules_;
  std::deque<DataModuleClass> data_modules_;
  std::vector<std::string> duplicates_;
  std::vector<std::string> loaded_files_;
  std::vector<std::string> skipped_files_;  // "path: why"
};

namespace detail {

template <typename T, typename = void>
struct declares_hparams : std::false_type {};
template <typename T>
struct declares_hparams<T, std::void_t<decltype(T::declare_hparams())>> : std::true_type {};

template <typename T>
HParamSpecs declared_hparams() {
  if constexpr (declares_hparams<T>::value) {
    return T::declare_hparams();
  } else {
    return {};
  }
}

template <typename T>
std::shared_ptr<T> build(const HParams& hparams) {
  if constexpr (std::is_constructible_v<T, const HParams&>) {
    return std::make_shared<T>(hparams);
  } else {
    static_assert(std::is_default_constructible_v<T>,
                  "a registered class is built from its hyper-parameters: give it a constructor taking "
                  "const fulgur::HParams& (or a default constructor when it declares none)");
    return std::make_shared<T>();
  }
}

/// The Module with configure_optimizers answered by the optimizer: section. Its constructors are
/// M's (so a Module that writes no configure_optimizers, abstract on its own, is built through it).
template <typename M>
class WithConfiguredOptimizers final : public M {
 public:
  using M::M;
  OptimizerConfig configure_optimizers() override { return optimizers_(*this); }
  void set_optimizers(OptimizerFactory optimizers) { optimizers_ = std::move(optimizers); }

 private:
  OptimizerFactory optimizers_;
};

template <typename M>
std::shared_ptr<Module> build_module(const HParams& hparams, OptimizerFactory optimizers) {
  std::shared_ptr<Module> module;
  if (optimizers) {
    using Configured = WithConfiguredOptimizers<M>;
    static_assert(std::is_constructible_v<Configured, const HParams&> || std::is_default_constructible_v<Configured>,
                  "a registered Module is built from its hyper-parameters: give it a constructor taking "
                  "const fulgur::HParams& (or a default constructor when it declares none)");
    std::shared_ptr<Configured> configured;
    if constexpr (std::is_constructible_v<Configured, const HParams&>) {
      configured = std::make_shared<Configured>(hparams);
    } else {
      configured = std::make_shared<Configured>();
    }
    configured->set_optimizers(std::move(optimizers));
    module = configured;
  } else if constexpr (!std::is_abstract_v<M>) {
    module = build<M>(hparams);
  } else {
    throw Error("the Module writes no configure_optimizers and no optimizer was given");  // checked before
  }
  // What load_from_checkpoint<M> rebuilds it from, unless its constructor recorded its own.
  if (module->hparams().empty() && !hparams.empty()) module->save_hyperparameters(hparams);
  return module;
}

template <typename M>
RunResult run_module(Trainer& trainer, Module& module, DataModule* data, Subcommand subcommand,
                     const std::string& ckpt_path) {
  auto& typed = static_cast<M&>(module);
  RunResult result;
  switch (subcommand) {
    case Subcommand::Fit:
      data ? trainer.fit(typed, *data, ckpt_path) : trainer.fit(typed, ckpt_path);
      break;
    case Subcommand::Validate:
      result.metrics = data ? trainer.validate(typed, *data, ckpt_path) : trainer.validate(typed, ckpt_path);
      break;
    case Subcommand::Test:
      result.metrics = data ? trainer.test(typed, *data, ckpt_path) : trainer.test(typed, ckpt_path);
      break;
    case Subcommand::Predict:
      result.predictions = data ? trainer.predict(typed, *data, ckpt_path) : trainer.predict(typed, ckpt_path);
      break;
  }
  return result;
}

}  // namespace detail

/// Registers Module class M under `name`; returns true (for a static initializer).
template <typename M>
bool register_module(const std::string& name) {
  static_assert(std::is_base_of_v<Module, M>, "FULGUR_REGISTER_MODULE: the class must derive from fulgur::Module");
  ModuleClass entry;
  entry.name = name;
  entry.hparams = detail::declared_hparams<M>();
  entry.writes_configure_optimizers = !std::is_abstract_v<M>;
  entry.make = &detail::build_module<M>;
  entry.run = &detail::run_module<M>;
  ComponentRegistry::instance().add(std::move(entry));
  return true;
}

/// Registers DataModule class D under `name`; returns true.
template <typename D>
bool register_data_module(const std::string& name) {
  static_assert(std::is_base_of_v<DataModule, D>,
                "FULGUR_REGISTER_DATAMODULE: the class must derive from fulgur::DataModule");
  DataModuleClass entry;
  entry.name = name;
  entry.hparams = detail::declared_hparams<D>();
  entry.make = [](const HParams& hparams) -> std::shared_ptr<DataModule> { return detail::build<D>(hparams); };
  ComponentRegistry::instance().add(std::move(entry));
  return true;
}

}  // namespace fulgur::cli

#define FULGUR_REGISTRY_CONCAT_(a, b) a##b
#define FULGUR_REGISTRY_CONCAT(a, b) FULGUR_REGISTRY_CONCAT_(a, b)

/// Registers a Module class by its name as written (`digits::DigitsNet`).
#define FULGUR_REGISTER_MODULE(Class)                                                          \
  namespace {                                                                                  \
  const bool FULGUR_REGISTRY_CONCAT(fulgur_registered_module_,                                 \
                                    __LINE__) = ::fulgur::cli::register_module<Class>(#Class); \
  }

/// Registers a DataModule class by its name as written.
#define FULGUR_REGISTER_DATAMODULE(Class)                                                           \
  namespace {                                                                                       \
  const bool FULGUR_REGISTRY_CONCAT(fulgur_registered_data_module_,                                 \
                                    __LINE__) = ::fulgur::cli::register_data_module<Class>(#Class); \
  }

/// Marks a shared library as a module library the `fulgur` command may load (once per library).
#define FULGUR_EXPORT_MODULES() extern "C" BOOST_SYMBOL_EXPORT const char fulgur_modules_abi[] = FULGUR_PLUGIN_ABI_TAG;
