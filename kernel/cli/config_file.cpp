#include "fulgur/config_file.h"

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "fulgur/error.h"
#include "nearest_name.h"

namespace fulgur {
namespace {

// Lightning's Trainer arguments that fulgur has no option for, with the values --print_config
// writes for them by default: a file that leaves them there is accepted.
const std::map<std::string, std::vector<std::string>>& lightning_only_keys() {
  static const std::map<std::string, std::vector<std::string>> keys{
      {"callbacks", {"", "null"}},          {"profiler", {"", "null"}},
      {"sync_batchnorm", {"false"}},        {"barebones", {"false"}},
      {"min_steps", {"", "null"}},          {"model_registry", {"", "null"}},
      {"enable_autolog_hparams", {"true"}},
  };
  return keys;
}

// Reading one file: every error names the file, the line and the key.
class ConfigReader {
 public:
  ConfigReader(std::string path, TrainerOptions& options, const std::set<std::string>& given)
      : path_(std::move(path)), options_(options), given_(given) {}

  ConfigExtras read() {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path_);
    } catch (const YAML::BadFile&) {
      throw Error("config '" + path_ + "': cannot read the file");
    } catch (const YAML::Exception& error) {
      throw Error("config '" + path_ + "' line " + std::to_string(error.mark.line + 1) +
                  ": not valid YAML: " + error.msg);
    }
    ConfigExtras extras;
    if (root.IsNull()) return extras;  // an empty file
    if (!root.IsMap()) fail(root, "", "the file should be a mapping of sections (trainer:, seed_everything:, ...)");
    static const std::vector<std::string> sections{"trainer",       "seed_everything", "ckpt_path",    "model",
                                                   "data",          "optimizer",       "lr_scheduler", "weights_only",
                                                   "test_after_fit"};
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      const YAML::Node& value = entry.second;
      if (key == "trainer") {
        read_trainer(value, extras);
      } else if (key == "seed_everything") {
        read_seed(value, "seed_everything");
      } else if (key == "ckpt_path") {
        if (!value.IsNull()) {
          if (!value.IsScalar()) fail(value, key, "expected a path, \"last\", \"hpc\" or null");
          extras.ckpt_path = value.Scalar();
        }
      } else if (key == "test_after_fit") {
        if (!value.IsNull()) extras.test_after_fit = read_bool(value, key, "expected true or false");
      } else if (key == "weights_only") {
        // Lightning's choice of torch.load's unpickler for ckpt_path; fulgur's reader is always
        // the restricted one (README: what a crafted file can do).
        if (!value.IsNull() && !value.IsScalar()) fail(value, key, "expected true, false or null");
      } else if (key == "model" || key == "data" || key == "optimizer" || key == "lr_scheduler") {
        // LightningCLI's class sections: kept for fulgur::cli::run, skipped with a warning by
        // programs that take these arguments on their own command line.
        if (!value.IsNull()) extras.components[key] = read_component(value, key);
      } else {
        fail(entry.first, key, "unknown section; did you mean '" + nearest_name(key, sections) + "'?");
      }
    }
    return extras;
  }

 private:
  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
    const auto mark = node.Mark();
    const std::string line = mark.is_null() ? "" : " line " + std::to_string(mark.line + 1);
    throw Error("config '" + path_ + "'" + line + ": " + (key.empty() ? "" : key + ": ") + what);
  }

  bool read_bool(const YAML::Node& value, const std::string& key, const std::string& expected) const {
    if (!value.IsScalar() || (value.Scalar() != "true" && value.Scalar() != "false")) fail(value, key, expected);
    return value.Scalar() == "true";
  }

  std::string where(const YAML::Node& node) const {
    return "config '" + path_ + "' line " + std::to_string(node.Mark().line + 1);
  }

  // model: {class_path: X, init_args: {...}}, model: X, or model: {argument: value, ...}.
  ComponentConfig read_component(const YAML::Node& value, const std::string& key) {
    ComponentConfig component;
    if (value.IsScalar()) {
      component.class_path = value.Scalar();
      component.origins["class_path"] = where(value);
      return component;
    }
    if (!value.IsMap())
      fail(value, key, "expected a class name, {class_path: NAME, init_args: {...}} or its arguments");
    const bool long_form = value["class_path"] || value["init_args"];
    if (long_form) {
      if (const YAML::Node name = value["class_path"]) {
        if (!name.IsScalar()) fail(name, key + ".class_path", "expected a class name");
        component.class_path = name.Scalar();
        component.origins["class_path"] = where(name);
      }
      for (const auto& entry : value) {
        const std::string field = entry.first.as<std::string>();
        if (field != "class_path" && field != "init_args") {
          fail(entry.first, key, "a class given by class_path takes init_args, not '" + field + "'");
        }
      }
    }
    // yaml-cpp's Node assignment writes through to the node it refers to: a new handle, not `=`.
    const YAML::Node arguments = long_form ? value["init_args"] : value;
    if (!arguments || arguments.IsNull()) return component;
    if (!arguments.IsMap())
      fail(arguments, key + (long_form ? ".init_args" : ""), "expected the arguments as a mapping");
    for (const auto& entry : arguments) {
      const std::string name = entry.first.as<std::string>();
      YAML::Emitter text;
      text << YAML::Flow << entry.second;
      component.init_args[name] = text.c_str();
      component.origins[name] = where(entry.first);
    }
    return component;
  }

  void read_trainer(const YAML::Node& section, ConfigExtras& extras) {
    if (section.IsNull()) return;
    if (!section.IsMap()) fail(section, "trainer", "expected a mapping of Trainer options");
    const TrainerOptions defaults;
    std::vector<std::string> names;
    for (const OptionField* field : options_.fields()) names.emplace_back(field->name());
    for (const auto& entry : section) {
      const std::string name = entry.first.as<std::string>();
      const YAML::Node& value = entry.second;
      const std::string key = "trainer." + name;
      if (given_.count(name)) continue;  // the command line wins
      if (name == "plugins") {
        options_.plugins(read_plugins(value, key));
        continue;
      }
      if (name == "plugin_dirs") {
        options_.plugin_dirs(read_strings(value, key));
        continue;
      }
      if (name == "seed") {
        read_seed(value, key);
        continue;
      }
      if (name == "logger") {
        // Lightning's logger=True|False: the program's default loggers on or off (fulgur::cli).
        if (!value.IsNull()) {
          extras.logger = read_bool(
              value, key, "expected true (the program's default loggers), false (none) or null; loggers are plugins");
        }
        continue;
      }
      OptionField* field = find(name);
      if (!field) {
        const auto lightning = lightning_only_keys().find(name);
        if (lightning != lightning_only_keys().end()) {
          const std::string text = value.IsNull() ? "null" : value.IsScalar() ? value.Scalar() : "(a structure)";
          const auto& accepted = lightning->second;
          if (std::find(accepted.begin(), accepted.end(), value.IsNull() ? "null" : text) == accepted.end()) {
            fail(entry.first, key,
                 "Lightning's option has no counterpart in fulgur; only its default (" + accepted.back() +
                     ") is accepted, got " + text);
          }
          continue;
        }
        fail(entry.first, key, "unknown Trainer option; did you mean '" + nearest_name(name, names) + "'?");
      }
      if (!field->has_text()) fail(entry.first, key, "this option is set in code only");
      set(*field, value, key, defaults);
    }
  }

  OptionField* find(const std::string& name) {
    for (OptionField* field : options_.fields()) {
      if (name == field->name()) return field;
    }
    return nullptr;
  }

  // A scalar into an option: null is the default (or unset, for an option that may be unset);
  // Lightning's own spellings of fast_dev_run (true/false) and devices (auto) are understood.
  void set(OptionField& field, const YAML::Node& value, const std::string& key, const TrainerOptions& defaults) {
    const std::string name = field.name();
    std::string text;
    if (value.IsNull()) {
      // An option that may be unset is unset ("none" reads so); any other takes its default.
      if (std::string(field.type_name()) != "string") {
        try {
          field.set_text("none");
          return;
        } catch (const std::invalid_argument&) {
        }
      }
      for (const OptionField* original : defaults.fields()) {
        if (name == original->name()) text = original->text();
      }
    } else if (value.IsScalar()) {
      text = value.Scalar();
      if (name == "fast_dev_run" && (text == "true" || text == "false")) text = text == "true" ? "1" : "0";
      if (name == "devices" && text == "auto") text = "1";
    } else {
      fail(value, key,
           std::string("expected a single value (") + field.type_name() + "), got a " +
               (value.IsSequence() ? "list" : "mapping"));
    }
    try {
      field.set_text(text);
    } catch (const std::invalid_argument& error) {
      fail(value, key, std::string("expected ") + error.what());
    }
    const std::string problem = field.problem();
    if (!problem.empty()) fail(value, key, problem);
  }

  void read_seed(const YAML::Node& value, const std::string& key) {
    if (given_.count("seed")) return;
    if (!value.IsNull() && !value.IsScalar()) fail(value, key, "expected a number, true (a random seed) or false");
    try {
      options_.seed(seed_everything_value(value.IsNull() ? "null" : value.Scalar()));
    } catch (const std::invalid_argument& error) {
      fail(value, key, std::string("expected ") + error.what());
    }
  }

  std::vector<std::string> read_strings(const YAML::Node& value, const std::string& key) {
    std::vector<std::string> items;
    if (value.IsNull()) return items;
    if (value.IsScalar()) return {value.Scalar()};
    if (!value.IsSequence()) fail(value, key, "expected a list of folders");
    for (const auto& item : value) {
      if (!item.IsScalar()) fail(item, key, "expected a folder name");
      items.push_back(item.Scalar());
    }
    return items;
  }

  // A plugin option's value as the plugin's reader takes it: lists joined by '/', mappings as
  // key:value pairs (OptionText's forms).
  std::string option_text(const YAML::Node& value, const std::string& key) {
    if (value.IsNull()) return "none";
    if (value.IsScalar()) return value.Scalar();
    std::string text;
    if (value.IsSequence()) {
      for (const auto& item : value) {
        if (!item.IsScalar()) fail(item, key, "expected a list of single values");
        text += (text.empty() ? "" : "/") + item.Scalar();
      }
      return text;
    }
    for (const auto& entry : value) {
      if (!entry.second.IsScalar()) fail(entry.second, key, "expected key: value pairs of single values");
      text += (text.empty() ? "" : "/") + entry.first.as<std::string>() + ":" + entry.second.Scalar();
    }
    return text;
  }

  PluginOptions plugin_options(const YAML::Node& args, const std::string& key) {
    PluginOptions options;
    if (!args.IsDefined() || args.IsNull()) return options;  // no init_args, or init_args: null
    if (!args.IsMap()) fail(args, key, "expected the plugin's options as a mapping");
    for (const auto& entry : args) {
      const std::string name = entry.first.as<std::string>();
      options[name] = option_text(entry.second, key + "." + name);
    }
    return options;
  }

  std::vector<PluginSpec> read_plugins(const YAML::Node& value, const std::string& key) {
    std::vector<PluginSpec> plugins;
    if (value.IsNull()) return plugins;
    if (!value.IsSequence()) fail(value, key, "expected a list of plugins");
    for (const auto& item : value) {
      if (item.IsScalar()) {
        try {
          plugins.push_back(PluginSpec::parse(item.Scalar()));
        } catch (const Error& error) {
          fail(item, key, error.what());
        }
      } else if (item.IsMap() && item["class_path"]) {
        const YAML::Node name = item["class_path"];
        if (!name.IsScalar()) fail(name, key, "class_path should name a plugin");
        for (const auto& entry : item) {
          const std::string field = entry.first.as<std::string>();
          if (field != "class_path" && field != "init_args") {
            fail(entry.first, key, "a plugin given by class_path takes init_args, not '" + field + "'");
          }
        }
        plugins.push_back({name.Scalar(), plugin_options(item["init_args"], key + "." + name.Scalar())});
      } else if (item.IsMap() && item.size() == 1) {
        const auto entry = *item.begin();
        const std::string name = entry.first.as<std::string>();
        plugins.push_back({name, plugin_options(entry.second, key + "." + name)});
      } else {
        fail(item, key, "each plugin is a name, {class_path: NAME, init_args: {...}} or {NAME: {...}}");
      }
    }
    return plugins;
  }

  std::string path_;
  TrainerOptions& options_;
  const std::set<std::string>& given_;
};

void emit_text(YAML::Emitter& out, const std::string& text) {
  if (text == "none") {
    out << YAML::Null;
  } else {
    out << text;
  }
}

}  // namespace

void ComponentConfig::merge(const ComponentConfig& later) {
  if (later.class_path && later.class_path != class_path) {
    *this = later;
    return;
  }
  for (const auto& [name, text] : later.init_args) init_args[name] = text;
  for (const auto& [name, origin] : later.origins) origins[name] = origin;
}

void ConfigExtras::merge(const ConfigExtras& later) {
  if (later.ckpt_path) ckpt_path = later.ckpt_path;
  if (later.logger) logger = later.logger;
  if (later.test_after_fit) test_after_fit = later.test_after_fit;
  for (const auto& [section, component] : later.components) components[section].merge(component);
}

std::optional<uint64_t> seed_everything_value(const std::string& text) {
  if (text == "false" || text == "null" || text == "~" || text.empty()) return std::nullopt;
  // LightningCLI's default: a seed drawn now (--print_config then shows it).
  if (text == "true") return std::random_device{}() % 4294967296ULL;
  return OptionText<uint64_t>::parse(text);
}

ConfigExtras apply_config_file(const std::string& path, TrainerOptions& options, const std::set<std::string>& given) {
  return ConfigReader(path, options, given).read();
}

std::string config_yaml(const TrainerOptions& options, const ConfigExtras& extras) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "seed_everything" << YAML::Value;
  if (options.seed()) {
    out << *options.seed();
  } else {
    out << YAML::Null;
  }
  out << YAML::Key << "trainer" << YAML::Value << YAML::BeginMap;
  if (extras.logger) out << YAML::Key << "logger" << YAML::Value << *extras.logger;
  for (const OptionField* field : options.fields()) {
    const std::string name = field->name();
    if (name == "seed") continue;  // seed_everything, as LightningCLI writes it
    out << YAML::Key << name << YAML::Value;
    if (name == "plugins") {
      out << YAML::BeginSeq;
      for (const auto& spec : options.plugins()) {
        out << YAML::BeginMap << YAML::Key << "class_path" << YAML::Value << spec.name;
        if (!spec.options.empty()) {
          out << YAML::Key << "init_args" << YAML::Value << YAML::BeginMap;
          for (const auto& [key, value] : spec.options) out << YAML::Key << key << YAML::Value << value;
          out << YAML::EndMap;
        }
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    } else if (name == "plugin_dirs") {
      out << YAML::BeginSeq;
      for (const auto& dir : options.plugin_dirs()) out << dir;
      out << YAML::EndSeq;
    } else {
      emit_text(out, field->text());
    }
  }
  out << YAML::EndMap;
  out << YAML::Key << "ckpt_path" << YAML::Value;
  if (extras.ckpt_path) {
    out << *extras.ckpt_path;
  } else {
    out << YAML::Null;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace fulgur
