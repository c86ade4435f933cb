// The Trainer's plugins: those its options imply (Lightning's default callbacks, a timer for
// max_time, grad_clip, the strategy, amp), loaded from the plugin folders, and the plugins
// added, found and replaced while it lives. A logger, a step runner or a strategy among them is
// also remembered as one.
#include <algorithm>
#include <sstream>

#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/step_runner.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"

namespace fulgur {
namespace {

// The plugins the options attach, after (or, for a strategy, before) those they name;
// `by_default` collects the names an enable_* option attached, for a clearer error.
std::vector<PluginSpec> plugins_for(const TrainerOptions& options, std::vector<std::string>& by_default) {
  // Lightning's default callbacks come after the user's, checkpointing last.
  const std::pair<bool, const char*> defaults[] = {{options.enable_progress_bar(), "progress_bar"},
                                                   {options.enable_model_summary(), "model_summary"},
                                                   {options.enable_checkpointing(), "model_checkpoint"}};
  std::vector<PluginSpec> specs = options.plugins();
  const auto named = [&specs](const std::string& name) {
    return std::any_of(specs.begin(), specs.end(), [&](const auto& spec) { return spec.name == name; });
  };
  if (!options.max_time().empty() && !named("timer"))
    specs.push_back(PluginSpec{"timer", {{"duration", options.max_time()}}});
  if (options.gradient_clip_val() && !named("grad_clip")) {
    std::ostringstream value;
    value.precision(17);
    value << *options.gradient_clip_val();
    specs.push_back(PluginSpec{
        "grad_clip",
        {{"gradient_clip_val", value.str()}, {"gradient_clip_algorithm", options.gradient_clip_algorithm()}}});
  }
  if (options.strategy() == "single_device" && !named("single_device")) {
    specs.insert(specs.begin(), PluginSpec{"single_device", {}});
  }
  if (options.strategy() == "ddp" && !named("ddp")) {
    specs.insert(specs.begin(), PluginSpec{"ddp",
                                           {{"devices", std::to_string(options.devices())},
                                            {"num_nodes", std::to_string(options.num_nodes())},
                                            {"accelerator", options.accelerator()}}});
  }
  if (options.canonical_precision() != "32-true" && !named("amp")) {
    specs.push_back(PluginSpec{"amp", {{"precision", options.canonical_precision()}}});
  }
  for (const auto& [enabled, name] : defaults) {
    if (enabled && !named(name)) {
      specs.push_back(PluginSpec{name, {}});
      by_default.emplace_back(name);
    }
  }
  return specs;
}

}  // namespace

void Trainer::load_plugins() {
  std::vector<std::string> by_default;
  const std::vector<PluginSpec> specs = plugins_for(options_, by_default);
  if (specs.empty()) return;
  const PluginHost host(options_.plugin_dirs());
  for (const auto& spec : specs) {
    try {
      add_loaded_plugin(host.load(spec));
    } catch (const PluginError& error) {
      if (std::find(by_default.begin(), by_default.end(), spec.name) == by_default.end()) throw;
      throw PluginError(std::string(error.what()) + "\n(" + spec.name +
                        " is attached by default; its enable_* Trainer option turns it off)");
    }
  }
}

Plugin& Trainer::add_loaded_plugin(LoadedPlugin loaded) {
  if (find_plugin(loaded->name())) throw PluginError("two plugins are named '" + loaded->name() + "'");
  if (loaded.library()) plugin_libraries_.push_back(loaded.library());
  loaded->bus_ = &bus_;
  loaded->attach(bus_);
  // fast_dev_run hands nothing to loggers (Lightning swaps in its DummyLogger).
  if (auto* logger = dynamic_cast<Logger*>(&loaded.plugin()); logger && options_.fast_dev_run() == 0) {
    loggers_.push_back(logger);
  }
  if (auto* runner = dynamic_cast<StepRunner*>(&loaded.plugin())) {
    if (step_runner_) throw PluginError("two step runners: '" + loaded->name() + "' and another one; a run has one");
    step_runner_ = runner;
  }
  if (auto* strategy = dynamic_cast<Strategy*>(&loaded.plugin())) {
    if (strategy_) throw PluginError("two strategies: '" + loaded->name() + "' and another one; a run has one");
    strategy_ = strategy;
    metrics_.set_reducer([strategy](at::Tensor& value) { strategy->all_reduce(value, ReduceOp::Mean); });
  }
  plugins_.push_back(std::move(loaded));
  return plugins_.back().plugin();
}

Plugin& Trainer::add_plugin(std::unique_ptr<Plugin> plugin) {
  if (!plugin) throw PluginError("add_plugin: no plugin given");
  return add_loaded_plugin(LoadedPlugin(nullptr, std::move(plugin)));
}

Plugin& Trainer::add_plugin(const PluginSpec& spec) {
  if (find_plugin(spec.name)) throw PluginError("two plugins are named '" + spec.name + "'");
  return add_loaded_plugin(PluginHost(options_.plugin_dirs()).load(spec));
}

Plugin* Trainer::find_plugin(const std::string& name) const {
  for (const auto& loaded : plugins_) {
    if (loaded->name() == name) return &loaded.plugin();
  }
  return nullptr;
}

std::vector<std::string> Trainer::plugin_names() const {
  std::vector<std::string> names;
  for (const auto& loaded : plugins_) names.push_back(loaded->name());
  return names;
}

void Trainer::remove_plugin(const std::string& name) {
  for (auto it = plugins_.begin(); it != plugins_.end(); ++it) {
    if ((*it)->name() != name) continue;
    Plugin* plugin = &it->plugin();
    loggers_.erase(std::remove_if(loggers_.begin(), loggers_.end(),
                                  [plugin](Logger* logger) { return dynamic_cast<Plugin*>(logger) == plugin; }),
                   loggers_.end());
    if (step_runner_ && dynamic_cast<Plugin*>(step_runner_) == plugin) step_runner_ = nullptr;
    if (strategy_ && dynamic_cast<Plugin*>(strategy_) == plugin) {
      throw PluginError("configure_callbacks cannot replace the strategy plugin '" + name + "'");
    }
    plugins_.erase(it);  // its scoped connections leave the bus with it
    return;
  }
}

}  // namespace fulgur
