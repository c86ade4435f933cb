#include "fulgur/cli.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "command_line_state.h"
#include "fulgur/atomic_write.h"
#include "fulgur/command_line.h"
#include "fulgur/config_file.h"
#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/optimizer_by_name.h"
#include "fulgur/plugin.h"
#include "fulgur/seed.h"
#include "fulgur/trainer.h"
#include "nearest_name.h"

namespace fulgur::cli {
namespace {

const char* const kSections[] = {"model", "data", "optimizer", "lr_scheduler"};

std::optional<Subcommand> subcommand_named(const std::string& name) {
  if (name == "fit") return Subcommand::Fit;
  if (name == "validate") return Subcommand::Validate;
  if (name == "test") return Subcommand::Test;
  if (name == "predict") return Subcommand::Predict;
  return std::nullopt;
}

// The values of `flag` among the arguments (--flag VALUE and --flag=VALUE), read before the
// command line is parsed: which classes are chosen decides which options it has.
std::vector<std::string> values_of(const std::vector<std::string>& args, const std::string& flag) {
  std::vector<std::string> values;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) values.push_back(args[i + 1]);
    if (args[i].rfind(flag + "=", 0) == 0) values.push_back(args[i].substr(flag.size() + 1));
  }
  return values;
}

std::string kebab(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return "--" + name;
}

// One section's class: the one fixed by the program, or named on the command line or in a file.
struct Choice {
  std::string name;  // "" when none
  const HParamSpecs* hparams = nullptr;
};

// The arguments a section's class gets: each given one read against its declaration, the others
// at their defaults. Errors name the argument, where it was given and the nearest valid name.
HParams resolve_arguments(const std::string& section, const std::string& class_name, const HParamSpecs& specs,
                          const ComponentConfig& given) {
  HParams values;
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);
  for (const auto& [name, text] : given.init_args) {
    const auto origin = given.origins.count(name) ? given.origins.at(name) + ": " : std::string();
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == name; });
    if (spec == specs.end()) {
      std::string takes;
      for (const auto& known : names) takes += (takes.empty() ? "" : ", ") + known;
      throw Error(origin + section + "." + name + ": " + class_name + " has no argument '" + name + "'" +
                  (names.empty() ? " (it takes none)"
                                 : "; did you mean '" + nearest_name(name, names) + "'? (it takes " + takes + ")"));
    }
    try {
      values.set(name, spec->parse(text));
    } catch (const std::invalid_argument& error) {
      throw Error(origin + section + "." + name + ": expected " + error.what());
    }
  }
  for (const auto& spec : specs) {
    if (values.contains(spec.name)) continue;
    if (spec.is_required) {
      throw Error(section + "." + spec.name + ": " + class_name + " needs it (" + spec.help + ", a " +
                  spec.type_name() + "): give --" + section + "." + spec.name + " or " + section + ": {init_args: {" +
                  spec.name + ": ...}}");
    }
    values.set(spec.name, spec.default_value);
  }
  return values;
}

YAML::Node yaml_of(const HParamValue& value) { return YAML::Load(value.to_yaml()); }

YAML::Node section_node(const std::string& class_name, const HParams& args) {
  YAML::Node node(YAML::NodeType::Map);
  node["class_path"] = class_name;
  YAML::Node init(YAML::NodeType::Map);
  for (const auto& [name, value] : args) init[name] = yaml_of(value);
  node["init_args"] = init;
  return node;
}

// Writes the resolved configuration as config.yaml in the run's log folder when the run starts
// (after automatic resume has picked the folder it writes on in), on global rank 0.
class SaveConfig : public Plugin {
 public:
  SaveConfig(std::string yaml, Subcommand subcommand) : yaml_(std::move(yaml)), subcommand_(subcommand) {}
  std::string name() const override { return "save_config"; }
  void attach(HookBus& bus) override {
    auto write = [this](RunHook& hook) { save(hook.trainer); };
    switch (subcommand_) {
      case Subcommand::Fit:
        connect(bus.on_fit_start, write);
        break;
      case Subcommand::Validate:
        connect(bus.on_validation_start, write);
        break;
      case Subcommand::Test:
        connect(bus.on_test_start, write);
        break;
      case Subcommand::Predict:
        connect(bus.on_predict_start, write);
        break;
    }
  }

 private:
  void save(Trainer& trainer) {
    if (written_ || !trainer.is_global_zero()) return;
    written_ = true;
    std::string dir = trainer.options().default_root_dir();
    for (const auto* logger : trainer.loggers()) {
      if (!logger->log_dir().empty()) {
        dir = logger->log_dir();
        break;
      }
    }
    if (dir.empty()) dir = ".";
    write_file_atomically(dir + "/config.yaml", yaml_, "config");
  }

  std::string yaml_;
  Subcommand subcommand_;
  bool written_ = false;
};

class Runner {
 public:
  Runner(const Settings& settings, std::string fixed_model, std::string fixed_data, bool fixed)
      : settings_(settings), fixed_model_(std::move(fixed_model)), fixed_data_(std::move(fixed_data)), fixed_(fixed) {}

  int run(int argc, const char* const* argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::vector<Subcommand> subcommands;
    if (!args.empty() && subcommand_named(args.front())) {
      subcommands.push_back(*subcommand_named(args.front()));
      args.erase(args.begin());
    } else {
      for (const auto& name : settings_.without_subcommand) subcommands.push_back(*subcommand_named(name));
    }
    const bool help = std::any_of(args.begin(), args.end(), [](const auto& a) { return a == "--help" || a == "-h"; });
    if (subcommands.empty() && !help) {
      const std::string first = args.empty() ? std::string("nothing") : "'" + args.front() + "'";
      throw Error("expected a subcommand first: fit, validate, test or predict (got " + first +
                  "); --help lists the options");
    }
    choose_classes(args, help);

    CLI::App app{settings_.description};
    app.footer(footer());
    TrainerOptions options = settings_.trainer_defaults;
    auto state = add_trainer_options(app, options);
    state->program_reads_components = true;
    state->program_prints_config = true;
    std::string ckpt_path, model_name, data_name, optimizer_name_given, scheduler_name_given;
    app.add_option("--ckpt_path,--ckpt-path", ckpt_path,
                   "The checkpoint to start from: a path; last: the newest of this experiment (or start fresh); "
                   "hpc: the newest preemption checkpoint");
    if (!fixed_) {
      app.add_option("--model", model_name, "The Module class, by its registered name");
      app.add_option("--data", data_name, "The DataModule class, by its registered name");
    }
    app.add_option("--optimizer", optimizer_name_given,
                   "An optimizer by name (Adam, AdamW, SGD, RMSprop, Adagrad), for a "
                   "Module without configure_optimizers");
    app.add_option("--lr_scheduler", scheduler_name_given,
                   "A scheduler by name (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, PolynomialLR, "
                   "ReduceLROnPlateau)");
    std::optional<bool> logger;
    if (!settings_.default_loggers.empty()) {
      app.add_flag_function(
          "--logger,!--no-logger", [&logger](int64_t count) { logger = count > 0; },
          "The program's loggers (" + plugin_list(settings_.default_loggers) + "), on by default");
    }
    std::map<std::string, std::map<std::string, std::string>> dotted;  // section -> argument -> text
    for (const char* section : kSections) add_argument_options(app, section, dotted[section]);
    std::optional<bool> test_after_fit;
    app.add_flag_function(
        "--test_after_fit,!--no-test_after_fit", [&test_after_fit](int64_t count) { test_after_fit = count > 0; },
        "After fit, test the weights it ended on (config: test_after_fit: true)");
    try {
      std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
      app.parse(reversed);
    } catch (const CLI::Success& success) {
      return app.exit(success);
    } catch (const CLI::ParseError& error) {
      throw Error(std::string("command line: ") + error.what());
    }

    ConfigExtras extras = finish_trainer_options(*state, options);
    if (logger) extras.logger = logger;
    if (test_after_fit) extras.test_after_fit = test_after_fit;
    if (extras.test_after_fit.value_or(false) && subcommands.size() == 1 && subcommands.front() == Subcommand::Fit) {
      subcommands.push_back(Subcommand::Test);
    }
    if (!ckpt_path.empty()) extras.ckpt_path = ckpt_path;
    overlay_command_line(extras,
                         {{"model", model_name},
                          {"data", data_name},
                          {"optimizer", optimizer_name_given},
                          {"lr_scheduler", scheduler_name_given}},
                         dotted);
    const Resolved resolved = resolve(extras);
    const std::string yaml = config_text(options, extras, resolved);
    if (state->print_config) {
      std::fputs(yaml.c_str(), stdout);
      return 0;
    }
    add_defaults(options, extras.logger.value_or(true));
    return execute(options, extras, resolved, subcommands, yaml);
  }

 private:
  struct Resolved {
    const ModuleClass* model = nullptr;
    const DataModuleClass* data = nullptr;
    HParams model_args, data_args;
    std::optional<NamedClass> optimizer, lr_scheduler;
  };

  // The command line on top of the files: a class named there, then its dotted arguments.
  static void overlay_command_line(ConfigExtras& extras, const std::map<std::string, std::string>& named,
                                   const std::map<std::string, std::map<std::string, std::string>>& dotted) {
    for (const char* section : kSections) {
      ComponentConfig& config = extras.components[section];
      if (!named.at(section).empty()) {
        ComponentConfig chosen;
        chosen.class_path = named.at(section);
        chosen.origins["class_path"] = std::string("--") + section;
        config.merge(chosen);
      }
      for (const auto& [name, text] : dotted.at(section)) {
        if (text.empty()) continue;
        config.init_args[name] = text;
        config.origins[name] = std::string("--") + section + "." + name;
      }
    }
  }

  static std::string plugin_list(const std::vector<PluginSpec>& plugins) {
    std::string list;
    for (const auto& spec : plugins) list += (list.empty() ? "" : ", ") + spec.name;
    return list;
  }

  std::string footer() const {
    if (fixed_) return "";
    auto& registry = ComponentRegistry::instance();
    std::string text = "Modules:";
    for (const auto& name : registry.module_names()) text += " " + name;
    text += "\nDataModules:";
    for (const auto& name : registry.data_module_names()) text += " " + name;
    return text + "\n(module libraries in the plugin folders are loaded when a name is asked for)";
  }

  // Which class each section names, read ahead of the parse from the command line and the files.
  void choose_classes(const std::vector<std::string>& args, bool help) {
    TrainerOptions scratch = settings_.trainer_defaults;
    ConfigExtras files;
    for (const auto& file : values_of(args, "--config")) files.merge(apply_config_file(file, scratch));
    std::vector<std::string> dirs = scratch.plugin_dirs();
    for (const auto& dir : values_of(args, "--plugin-dir")) dirs.push_back(dir);
    search_path_ = PluginHost(dirs).search_path();
    if (help && !fixed_) ComponentRegistry::instance().load_libraries(search_path_);  // --help lists them
    auto named = [&](const std::string& section) -> std::string {
      const auto given = values_of(args, "--" + section);
      if (!given.empty()) return given.back();
      const auto found = files.components.find(section);
      return found != files.components.end() && found->second.class_path ? *found->second.class_path : "";
    };
    auto& registry = ComponentRegistry::instance();
    const std::string model = fixed_ ? fixed_model_ : named("model");
    const std::string data = fixed_ ? fixed_data_ : named("data");
    // A fixed program's classes are its own: no library is searched for them.
    const std::vector<std::string> libraries = fixed_ ? std::vector<std::string>{} : search_path_;
    if (!model.empty()) {
      model_class_ = &registry.module(model, libraries);
      model_ = {model_class_->name, &model_class_->hparams};
    }
    if (!data.empty()) {
      data_class_ = &registry.data_module(data, libraries);
      data_ = {data_class_->name, &data_class_->hparams};
    }
    if (model.empty() && !help) {
      std::string known;
      for (const auto& name : registry.module_names()) known += " " + name;
      throw Error("no Module chosen: give --model NAME or model: {class_path: NAME} in a config (registered:" +
                  (known.empty() ? std::string(" none; module libraries are loaded from the plugin folders") : known) +
                  ")");
    }
    const std::string optimizer = named("optimizer");
    if (!optimizer.empty()) optimizer_ = {optimizer_name(optimizer), &optimizer_hparams(optimizer)};
    const std::string scheduler = named("lr_scheduler");
    if (!scheduler.empty()) scheduler_ = {lr_scheduler_name(scheduler), &lr_scheduler_hparams(scheduler)};
  }

  void add_argument_options(CLI::App& app, const std::string& section, std::map<std::string, std::string>& texts) {
    const Choice& choice = section == "model"       ? model_
                           : section == "data"      ? data_
                           : section == "optimizer" ? optimizer_
                                                    : scheduler_;
    if (!choice.hparams) return;
    for (const auto& spec : *choice.hparams) {
      std::string names = "--" + section + "." + spec.name;
      for (const auto& [alias, target] : settings_.aliases) {
        if (target == section + "." + spec.name) names += "," + alias;
      }
      const std::string kebab_name = kebab(spec.name);
      if (fixed_ && settings_.kebab_aliases && (section == "model" || section == "data") &&
          !app.get_option_no_throw(kebab_name) && settings_.aliases.count(kebab_name) == 0) {
        names += "," + kebab_name;
      }
      const std::string fallback = spec.is_required ? "required" : "default " + spec.default_value.to_string();
      app.add_option(names, texts[spec.name], spec.help + " (" + spec.type_name() + ", " + fallback + ")")
          ->group(choice.name + "'s arguments");
    }
  }

  Resolved resolve(ConfigExtras& extras) const {
    Resolved resolved;
    auto& registry = ComponentRegistry::instance();
    // A fixed program's config may name its class (in any spelling), but no other.
    auto check_fixed = [&](const char* section, const std::string& fixed) {
      const auto& config = extras.components[section];
      if (!config.class_path || fixed.empty()) return;
      const std::string& asked = *config.class_path;
      bool same = false;
      try {  // a name the program does not know is not its class either
        same = section == std::string("model") ? &registry.module(asked, {}) == model_class_
                                               : &registry.data_module(asked, {}) == data_class_;
      } catch (const Error&) {
      }
      if (!same) {
        throw Error(config.origins.at("class_path") + ": " + section + ": this program runs " + fixed + ", not " +
                    asked);
      }
    };
    if (fixed_) {
      check_fixed("model", fixed_model_);
      check_fixed("data", fixed_data_);
    }
    if (model_class_) {
      resolved.model = model_class_;
      resolved.model_args = resolve_arguments("model", model_.name, *model_.hparams, extras.components["model"]);
    }
    if (data_class_) {
      resolved.data = data_class_;
      resolved.data_args = resolve_arguments("data", data_.name, *data_.hparams, extras.components["data"]);
    } else if (!extras.components["data"].init_args.empty()) {
      const auto& config = extras.components["data"];
      throw Error(config.origins.begin()->second + ": data: arguments given but no DataModule chosen");
    }
    if (optimizer_.hparams) {
      resolved.optimizer = NamedClass{
          optimizer_.name,
          resolve_arguments("optimizer", optimizer_.name, *optimizer_.hparams, extras.components["optimizer"])};
    }
    if (scheduler_.hparams) {
      if (!optimizer_.hparams)
        throw Error("lr_scheduler: a scheduler needs an optimizer: section (or --optimizer) to drive");
      resolved.lr_scheduler = NamedClass{
          scheduler_.name,
          resolve_arguments("lr_scheduler", scheduler_.name, *scheduler_.hparams, extras.components["lr_scheduler"])};
    }
    if (resolved.model && !resolved.model->writes_configure_optimizers && !resolved.optimizer) {
      throw Error(resolved.model->name +
                  " writes no configure_optimizers: give it an optimizer (--optimizer Adam, or an "
                  "optimizer: section)");
    }
    return resolved;
  }

  static std::string config_text(const TrainerOptions& options, const ConfigExtras& extras, const Resolved& resolved) {
    const YAML::Node trainer_part = YAML::Load(config_yaml(options, extras));
    YAML::Node root(YAML::NodeType::Map);
    root["seed_everything"] = trainer_part["seed_everything"];
    root["trainer"] = trainer_part["trainer"];
    if (resolved.model) root["model"] = section_node(resolved.model->name, resolved.model_args);
    if (resolved.data) root["data"] = section_node(resolved.data->name, resolved.data_args);
    if (resolved.optimizer) root["optimizer"] = section_node(resolved.optimizer->name, resolved.optimizer->args);
    if (resolved.lr_scheduler)
      root["lr_scheduler"] = section_node(resolved.lr_scheduler->name, resolved.lr_scheduler->args);
    if (extras.test_after_fit) root["test_after_fit"] = *extras.test_after_fit;
    root["ckpt_path"] = trainer_part["ckpt_path"];
    YAML::Emitter out;
    out << root;
    return std::string(out.c_str()) + "\n";
  }

  void add_defaults(TrainerOptions& options, bool loggers) const {
    auto named = [&](const std::string& name) {
      return std::any_of(options.plugins().begin(), options.plugins().end(),
                         [&](const auto& spec) { return spec.name == name; });
    };
    for (const auto& spec : settings_.default_plugins) {
      if (!named(spec.name)) options.plugins().push_back(spec);
    }
    if (!loggers) return;
    for (const auto& spec : settings_.default_loggers) {
      if (!named(spec.name)) options.plugins().push_back(spec);
    }
  }

  static int execute(const TrainerOptions& options, const ConfigExtras& extras, const Resolved& resolved,
                     const std::vector<Subcommand>& subcommands, const std::string& yaml) {
    if (options.seed()) seed_everything(*options.seed());
    std::shared_ptr<DataModule> data;
    if (resolved.data) data = resolved.data->make(resolved.data_args);
    OptimizerFactory optimizers;
    if (resolved.optimizer) {
      if (resolved.model->writes_configure_optimizers) {
        spdlog::warn("{}'s configure_optimizers is replaced by the configured optimizer ({})", resolved.model->name,
                     resolved.optimizer->name);
      }
      optimizers = [optimizer = *resolved.optimizer, scheduler = resolved.lr_scheduler](Module& module) {
        return build_optimizers(module, optimizer, scheduler);
      };
    }
    std::shared_ptr<Module> model = resolved.model->make(resolved.model_args, optimizers);
    Trainer trainer(options);
    trainer.add_plugin(std::make_unique<SaveConfig>(yaml, subcommands.front()));
    const std::string ckpt_path = extras.ckpt_path.value_or("");
    bool fitted = false;
    for (const Subcommand subcommand : subcommands) {
      // After fit in the same run, the others use the weights fit ended on, as digits always did.
      const std::string from = fitted ? std::string() : ckpt_path;
      const RunResult result = resolved.model->run(trainer, *model, data.get(), subcommand, from);
      switch (subcommand) {
        case Subcommand::Fit:
          fitted = true;
          std::printf("global_step: %lld\n", static_cast<long long>(trainer.global_step()));
          break;
        case Subcommand::Validate:
        case Subcommand::Test:
          for (const auto& [name, value] : result.metrics) std::printf("%s: %.4f\n", name.c_str(), value);
          break;
        case Subcommand::Predict: {
          int64_t rows = 0;
          std::size_t batches = 0;
          for (const auto& loader : result.predictions) {
            batches += loader.size();
            for (const auto& batch : loader) rows += batch.dim() > 0 ? batch.size(0) : 1;
          }
          std::printf("predictions: %zu batches, %lld rows\n", batches, static_cast<long long>(rows));
          break;
        }
      }
      std::fflush(stdout);
    }
    std::set<std::string> log_dirs;  // loggers started together share their version folder
    for (const auto* logger : trainer.loggers()) {
      if (!logger->log_dir().empty() && log_dirs.insert(logger->log_dir()).second) {
        std::printf("logs: %s\n", logger->log_dir().c_str());
      }
    }
    const bool own_folder = std::any_of(options.plugins().begin(), options.plugins().end(), [](const auto& spec) {
      return spec.name == "model_checkpoint" && spec.options.count("dirpath");
    });
    if (fitted && options.enable_checkpointing() && !own_folder) {
      std::printf("checkpoints: %s\n", trainer.default_checkpoint_dir().c_str());
    }
    return 0;
  }

  const Settings& settings_;
  std::string fixed_model_, fixed_data_;
  bool fixed_;
  std::vector<std::string> search_path_;
  Choice model_, data_, optimizer_, scheduler_;
  const ModuleClass* model_class_ = nullptr;
  const DataModuleClass* data_class_ = nullptr;
};

int guarded(Runner runner, int argc, const char* const* argv) {
  try {
    return runner.run(argc, argv);
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}

}  // namespace

int run(int argc, const char* const* argv, const Settings& settings) {
  return guarded(Runner(settings, "", "", false), argc, argv);
}

int run(int argc, const char* const* argv, const Settings& settings, const std::string& model_class,
        const std::string& data_class) {
  return guarded(Runner(settings, model_class, data_class, true), argc, argv);
}

}  // namespace fulgur::cli
