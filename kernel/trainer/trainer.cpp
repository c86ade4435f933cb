#include "fulgur/trainer.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <torch/torch.h>

#include <spdlog/spdlog.h>

#include "fulgur/compat.h"
#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/lr_schedulers.h"
#include "fulgur/step_runner.h"
#include "fulgur/strategy.h"
#include "file_size_signal.h"
#include "interrupt_guard.h"

namespace fulgur {

// Attaches a Module to the Trainer for one run and detaches it however the run ends; emits
// on_exception for an error escaping the run.
class Trainer::RunScope {
 public:
  RunScope(Trainer& trainer, Module& module, Stage stage, DataModule* datamodule) : trainer_(trainer) {
    trainer_.begin_run(module, stage, datamodule);
  }
  ~RunScope() { trainer_.end_run(); }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

  template <typename Body>
  auto run(Body&& body) {
    try {
      return body();
    } catch (const std::exception& error) {
      ExceptionHook hook{trainer_, error};
      trainer_.bus_.on_exception(hook);  // every slot runs (EverySlotRuns)
      throw;
    } catch (...) {
      // A Module or plugin threw something that is not a std::exception (an int, a string
      // literal): the run still ends through on_exception, with an error that says so.
      const Error error("the run failed: a step, hook or plugin threw something that is not a std::exception "
                        "(throw a std::exception or fulgur::Error to say what went wrong)");
      ExceptionHook hook{trainer_, error};
      trainer_.bus_.on_exception(hook);
      throw error;
    }
  }

 private:
  Trainer& trainer_;
  // Loggers keep files open and write during the run: under `ulimit -f` their writes fail with
  // a reason instead of SIGXFSZ killing the process without a word.
  const detail::FileSizeSignalIgnored no_silent_death_;
};

namespace {

// Where a batch falls in its accumulation window: the first micro-batch zeroes the gradients,
// the last (or the epoch's last batch) steps the optimizer.
struct WindowPosition {
  bool zeroes_gradients;
  bool steps_optimizer;
};
WindowPosition window_position(int64_t batch_idx, int64_t accumulate, bool is_last_batch) {
  return {batch_idx % accumulate == 0, (batch_idx + 1) % accumulate == 0 || is_last_batch};
}

// Under a distributed strategy each process takes the GPU of its local rank.
torch::Device resolve_device(const std::string& accelerator, int64_t local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (accelerator == "cpu" || (accelerator == "auto" && !cuda)) return torch::kCPU;
  // "cuda", "gpu" or "auto" with a GPU
  if (!cuda) {
    throw Error("Trainer option accelerator='" + accelerator +
                "': this LibTorch sees no CUDA device (it may be a CPU-only build); use accelerator='cpu'");
  }
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % count));
}

// The evaluation loops run without autograd: under InferenceMode (Lightning's inference_mode=True,
// cheaper: no version counters or view tracking) or under NoGradGuard.
class EvaluationGradMode {
 public:
  explicit EvaluationGradMode(bool inference_mode) {
    if (inference_mode) {
      inference_.emplace();
    } else {
      no_grad_.emplace();
    }
  }

 private:
  std::optional<c10::InferenceMode> inference_;
  std::optional<torch::NoGradGuard> no_grad_;
};

}  // namespace

Trainer::Trainer(TrainerOptions options) : options_(std::move(options)) {
  options_.validate();
  apply_debugging_flags();
  connect_loggers();
  // Lightning's default callbacks come after the user's, checkpointing last.
  const std::pair<bool, const char*> defaults[] = {{options_.enable_progress_bar(), "progress_bar"},
                                                   {options_.enable_model_summary(), "model_summary"},
                                                   {options_.enable_checkpointing(), "model_checkpoint"}};
  std::vector<PluginSpec> specs = options_.plugins();
  std::vector<std::string> by_default;
  const auto named = [&specs](const std::string& name) {
    return std::any_of(specs.begin(), specs.end(), [&](const auto& spec) { return spec.name == name; });
  };
  if (!options_.max_time().empty() && !named("timer")) specs.push_back(PluginSpec{"timer", {{"duration", options_.max_time()}}});
  if (options_.gradient_clip_val() && !named("grad_clip")) {
    std::ostringstream value;
    value.precision(17);
    value << *options_.gradient_clip_val();
    specs.push_back(PluginSpec{"grad_clip", {{"gradient_clip_val", value.str()},
                                             {"gradient_clip_algorithm", options_.gradient_clip_algorithm()}}});
  }
  if (options_.strategy() == "single_device" && !named("single_device")) {
    specs.insert(specs.begin(), PluginSpec{"single_device", {}});
  }
  if (options_.strategy() == "ddp" && !named("ddp")) {
    specs.insert(specs.begin(), PluginSpec{"ddp", {{"devices", std::to_string(options_.devices())},
                                                   {"num_nodes", std::to_string(options_.num_nodes())},
                                                   {"accelerator", options_.accelerator()}}});
  }
  if (options_.canonical_precision() != "32-true" && !named("amp")) {
    specs.push_back(PluginSpec{"amp", {{"precision", options_.canonical_precision()}}});
  }
  for (const auto& [enabled, name] : defaults) {
    if (enabled && !named(name)) {
      specs.push_back(PluginSpec{name, {}});
      by_default.emplace_back(name);
    }
  }
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

void Trainer::apply_debugging_flags() {
  const bool overfitting = options_.overfitting();
  if (const int64_t batches = options_.fast_dev_run(); batches > 0) {
    if (!overfitting) {
      options_.limit_train_batches(batches);
      options_.limit_val_batches(batches);
    }
    options_.limit_test_batches(batches);
    options_.limit_predict_batches(batches);
    options_.max_steps(batches);
    options_.max_epochs(1);
    options_.num_sanity_val_steps(0);
    options_.val_check_interval(1.0);
    options_.check_val_every_n_epoch(1);
    spdlog::info("fast_dev_run: every loop runs {} batch(es); checkpoints and logging are off", batches);
  }
  if (overfitting) {
    options_.limit_train_batches(options_.overfit_batches());
    options_.limit_val_batches(options_.overfit_batches());
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

Trainer::~Trainer() {
  if (module_ && module_->trainer_ == this) module_->trainer_ = nullptr;
  if (datamodule_ && datamodule_->trainer_ == this) datamodule_->trainer_ = nullptr;
}

void Trainer::forget(const Module& module) {
  if (module_ == &module) module_ = nullptr;
}

void Trainer::forget(const DataModule& datamodule) {
  if (datamodule_ == &datamodule) datamodule_ = nullptr;
}

void Trainer::attach(Module& module, DataModule* datamodule) {
  // What this Trainer ran last lets go; what another (idle) Trainer ran last leaves it.
  if (module_ && module_ != &module && module_->trainer_ == this) module_->trainer_ = nullptr;
  if (datamodule_ && datamodule_ != datamodule && datamodule_->trainer_ == this) datamodule_->trainer_ = nullptr;
  if (module.trainer_ && module.trainer_ != this) module.trainer_->forget(module);
  if (datamodule && datamodule->trainer_ && datamodule->trainer_ != this) datamodule->trainer_->forget(*datamodule);
  module.trainer_ = this;
  module_ = &module;
  datamodule_ = datamodule;
  if (datamodule_) datamodule_->trainer_ = this;
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

std::string Trainer::default_checkpoint_dir() const {
  for (const Logger* logger : loggers_) {
    if (!logger->log_dir().empty()) return (std::filesystem::path(logger->log_dir()) / "checkpoints").string();
  }
  return (std::filesystem::path(options_.default_root_dir()) / "checkpoints").string();
}

int64_t Trainer::global_rank() const { return strategy_ ? strategy_->global_rank() : 0; }
int64_t Trainer::world_size() const { return strategy_ ? strategy_->world_size() : 1; }

void Trainer::shard(DataLoader& loader) {
  if (world_size() > 1 && options_.use_distributed_sampler()) loader.shard(global_rank(), world_size());
}

// Every rank must leave the loop at the same batch, or the others would wait in a collective
// forever: a stop wanted by any rank is a stop for all.
void Trainer::agree_on_should_stop() {
  if (world_size() <= 1) return;
  const bool interrupted_here = detail::InterruptGuard::pending() != 0;
  auto flags = torch::tensor({should_stop ? 1.0f : 0.0f, interrupted_here ? 1.0f : 0.0f});
  strategy_->all_reduce(flags, ReduceOp::Max);
  should_stop = flags[0].item<float>() > 0;
  interrupt_agreed_ = interrupt_agreed_ || flags[1].item<float>() > 0;
}

// A signal stops a single process at its next batch boundary; under several processes, at the
// boundary where all ranks have learnt of it (see Strategy::agreed_interrupt).
bool Trainer::interrupt_due() {
  if (world_size() <= 1 || !strategy_) return detail::InterruptGuard::pending() != 0;
  return strategy_->agreed_interrupt() || interrupt_agreed_;
}

bool Trainer::inference_mode() const {
  return options_.inference_mode() && (!strategy_ || strategy_->collectives_allow_inference_mode());
}

void Trainer::set_max_epochs(int64_t epochs) {
  if (epochs < -1) throw Error("max_epochs must be -1 (no limit) or >= 0, got " + std::to_string(epochs));
  max_epochs_ = epochs;
}

void Trainer::set_accumulate_grad_batches(int64_t batches) {
  if (batches < 1) throw Error("accumulate_grad_batches must be >= 1, got " + std::to_string(batches));
  accumulate_grad_batches_ = batches;
}

// --- run set-up -------------------------------------------------------------------------------

void Trainer::begin_run(Module& module, Stage stage, DataModule* datamodule) {
  if (running_) throw Error("this Trainer is already running; runs cannot nest");
  if (module.trainer_ && module.trainer_->running_) throw Error("this Module is already attached to a running Trainer");
  if (datamodule && datamodule->trainer_ && datamodule->trainer_->running_) {
    throw Error("this DataModule is already attached to a running Trainer");
  }
  stage_ = stage;
  should_stop = false;
  interrupt_agreed_ = false;
  sanity_checking_ = false;
  metrics_.clear();
  validation_steps_logged_ = 0;
  test_steps_logged_ = 0;
  if (options_.seed()) torch::manual_seed(*options_.seed());
  compat::use_deterministic_algorithms(options_.deterministic());
  // Lightning's rule: benchmark as given; unset under deterministic means off; else untouched.
  if (options_.benchmark() || options_.deterministic()) {
    if (options_.deterministic() && options_.benchmark().value_or(false)) {
      spdlog::warn("deterministic=true and benchmark=true: cuDNN's autotuner may pick non-deterministic algorithms");
    }
    at::globalContext().setBenchmarkCuDNN(options_.benchmark().value_or(false));
  }
  device_ = resolve_device(options_.accelerator(), strategy_ ? strategy_->local_rank() : 0);
  module.to(device_);
  module.device_ = device_;
  // Metric objects sync through this run's strategy, and log() accepts only these.
  module_metrics_.clear();
  for (const auto& child : module.modules(/*include_self=*/false)) {
    if (auto* metric = dynamic_cast<LoggableMetric*>(child.get())) {
      metric->set_strategy(strategy_);
      module_metrics_.push_back(metric);
    }
  }
  attach(module, datamodule);
  dataloader_idx_ = 0;
  current_batch_ = nullptr;
  running_ = true;
  connect_module_hooks(module);
  // Lightning's configure_callbacks: the Module's plugins replace the Trainer's of the same name.
  for (auto& plugin : module.configure_callbacks()) {
    if (!plugin) throw Error("configure_callbacks returned a null plugin");
    if (find_plugin(plugin->name())) remove_plugin(plugin->name());
    add_plugin(std::move(plugin));
  }
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

int64_t Trainer::estimated_stepping_batches() const {
  if (max_epochs_ < 0) {
    if (options_.max_steps() < 0) {
      throw Error("estimated_stepping_batches: training is unlimited (max_epochs=-1 and max_steps=-1)");
    }
    return options_.max_steps();
  }
  if (!train_loader_) {
    throw Error("estimated_stepping_batches is known during fit (e.g. in configure_optimizers), when the training "
                "loader is");
  }
  const int64_t batches = options_.limit_train_batches().resolve(train_loader_->size(), "limit_train_batches");
  if (batches < 0) {
    if (options_.max_steps() >= 0) return options_.max_steps();
    throw Error("estimated_stepping_batches: the training loader has no known length; set max_steps");
  }
  const int64_t per_epoch = (batches + accumulate_grad_batches_ - 1) / accumulate_grad_batches_;
  const int64_t total = per_epoch * std::max<int64_t>(max_epochs_, 1);
  return options_.max_steps() >= 0 ? std::min(total, options_.max_steps()) : total;
}

void Trainer::end_run() {
  module_connections_.clear();
  for (auto* metric : module_metrics_) metric->set_strategy(nullptr);
  module_metrics_.clear();
  train_loader_ = nullptr;
  current_batch_ = nullptr;
  owned_loaders_ = DataLoaders();
  owned_train_loader_ = DataLoaders();
  // The Module and DataModule keep this Trainer (Lightning's model.trainer after fit): their
  // current_epoch(), global_step() and trainer() read the finished run.
  metrics_.set_context(LogContext::None);
  running_ = false;
}

// While a Module hook where Lightning forbids log() runs, log() names that hook.
class Trainer::LogForbidden {
 public:
  LogForbidden(MetricStore& metrics, const char* where) : metrics_(metrics), previous_(metrics.logging_forbidden_in()) {
    metrics_.forbid_logging_in(where);
  }
  ~LogForbidden() { metrics_.forbid_logging_in(previous_); }
  LogForbidden(const LogForbidden&) = delete;
  LogForbidden& operator=(const LogForbidden&) = delete;

 private:
  MetricStore& metrics_;
  const char* previous_;
};

void Trainer::connect_module_hooks(Module& module) {
  auto add = [this](auto& hook, auto slot) {
    module_connections_.emplace_back(hook.connect(SlotGroup::Module, std::move(slot)));
  };
  Module* m = &module;
  MetricStore* metrics = &metrics_;
  // A hook where Lightning forbids log(): the Module's method runs with log() naming the hook.
  auto add_no_log = [&add, metrics](auto& hook, const char* where, auto call) {
    add(hook, [metrics, where, call](auto& context) {
      const LogForbidden scope(*metrics, where);
      call(context);
    });
  };
  add_no_log(bus_.setup, "setup", [m](StageHook& hook) { m->setup(hook.stage); });
  add_no_log(bus_.teardown, "teardown", [m](StageHook& hook) { m->teardown(hook.stage); });
  add_no_log(bus_.on_fit_start, "on_fit_start", [m](RunHook&) { m->on_fit_start(); });
  add_no_log(bus_.on_fit_end, "on_fit_end", [m](RunHook&) { m->on_fit_end(); });
  add(bus_.on_train_start, [m](RunHook&) { m->on_train_start(); });
  add_no_log(bus_.on_train_end, "on_train_end", [m](RunHook&) { m->on_train_end(); });
  add(bus_.on_train_epoch_start, [m](EpochHook&) { m->on_train_epoch_start(); });
  add(bus_.on_train_epoch_end, [m](EpochHook&) { m->on_train_epoch_end(); });
  add(bus_.on_train_batch_start, [m](BatchStartHook& hook) { m->on_train_batch_start(hook.batch, hook.batch_idx); });
  add(bus_.on_train_batch_end, [m](BatchEndHook& hook) {
    // What the step gave outputs(), or just its loss.
    if (m->step_output_.values.empty()) m->step_output_.loss = hook.outputs;
    m->on_train_batch_end(m->step_output_, hook.batch, hook.batch_idx);
  });
  add(bus_.on_validation_start, [m](RunHook&) { m->on_validation_start(); });
  add(bus_.on_validation_end, [m](RunHook&) { m->on_validation_end(); });
  add(bus_.on_validation_epoch_start, [m](EpochHook&) { m->on_validation_epoch_start(); });
  add(bus_.on_validation_epoch_end, [m](EpochHook&) { m->on_validation_epoch_end(); });
  add(bus_.on_validation_batch_start, [m](BatchStartHook& hook) { m->on_validation_batch_start(hook.batch, hook.batch_idx); });
  add(bus_.on_validation_batch_end,
      [m](BatchEndHook& hook) { m->on_validation_batch_end(hook.outputs, hook.batch, hook.batch_idx); });
  add(bus_.on_test_start, [m](RunHook&) { m->on_test_start(); });
  add(bus_.on_test_end, [m](RunHook&) { m->on_test_end(); });
  add(bus_.on_test_epoch_start, [m](EpochHook&) { m->on_test_epoch_start(); });
  add(bus_.on_test_epoch_end, [m](EpochHook&) { m->on_test_epoch_end(); });
  add(bus_.on_test_batch_start, [m](BatchStartHook& hook) { m->on_test_batch_start(hook.batch, hook.batch_idx); });
  add(bus_.on_test_batch_end, [m](BatchEndHook& hook) { m->on_test_batch_end(hook.outputs, hook.batch, hook.batch_idx); });
  add_no_log(bus_.on_predict_start, "on_predict_start", [m](RunHook&) { m->on_predict_start(); });
  add_no_log(bus_.on_predict_end, "on_predict_end", [m](RunHook&) { m->on_predict_end(); });
  add(bus_.on_predict_epoch_start, [m](EpochHook&) { m->on_predict_epoch_start(); });
  add(bus_.on_predict_epoch_end, [m](EpochHook&) { m->on_predict_epoch_end(); });
  add(bus_.on_predict_batch_start, [m](BatchStartHook& hook) { m->on_predict_batch_start(hook.batch, hook.batch_idx); });
  add(bus_.on_predict_batch_end,
      [m](BatchEndHook& hook) { m->on_predict_batch_end(hook.outputs, hook.batch, hook.batch_idx); });
  add(bus_.on_before_backward, [m](BeforeBackwardHook& hook) { m->on_before_backward(hook.loss); });
  add(bus_.on_after_backward, [m](AfterBackwardHook&) { m->on_after_backward(); });
  add(bus_.on_before_optimizer_step, [m](OptimizerHook& hook) { m->on_before_optimizer_step(hook.optimizer); });
  add(bus_.on_before_zero_grad, [m](OptimizerHook& hook) { m->on_before_zero_grad(hook.optimizer); });
  add_no_log(bus_.on_save_checkpoint, "on_save_checkpoint",
             [m](CheckpointHook& hook) { m->on_save_checkpoint(hook.checkpoint); });
  // Epoch metrics are published inside the epoch-end hooks, after the callbacks and the Module
  // logged theirs and before the monitors read them (Lightning's order).
  module_connections_.emplace_back(bus_.on_train_epoch_end.connect(
      SlotGroup::EpochMetrics, [this](EpochHook&) { metrics_.end_epoch(LogContext::Training); }));
  module_connections_.emplace_back(bus_.on_validation_epoch_end.connect(
      SlotGroup::EpochMetrics, [this](EpochHook&) { metrics_.end_epoch(LogContext::Validation); }));
  module_connections_.emplace_back(bus_.on_test_epoch_end.connect(
      SlotGroup::EpochMetrics, [this](EpochHook&) { metrics_.end_epoch(LogContext::Test); }));
  add_no_log(bus_.on_load_checkpoint, "on_load_checkpoint",
             [m](CheckpointHook& hook) { m->on_load_checkpoint(hook.checkpoint); });
}

void Trainer::configure_optimizers(Module& module) {
  OptimizerConfig config = [&] {
    const LogForbidden scope(metrics_, "configure_optimizers");
    return module.configure_optimizers();
  }();
  if (config.optimizers.empty()) {
    throw Error("configure_optimizers returned no optimizer; return at least one (e.g. "
                "std::make_shared<torch::optim::Adam>(parameters()))");
  }
  for (std::size_t i = 0; i < config.optimizers.size(); ++i) {
    if (!config.optimizers[i]) {
      throw Error("configure_optimizers returned a null optimizer at position " + std::to_string(i));
    }
  }
  if (module.automatic_optimization() && config.optimizers.size() > 1) {
    throw Error("configure_optimizers returned " + std::to_string(config.optimizers.size()) +
                " optimizers, but automatic optimization drives exactly one; call "
                "set_automatic_optimization(false) in the Module's constructor and step them yourself");
  }
  for (auto& scheduler : config.lr_schedulers) {
    if (!scheduler.scheduler && scheduler.libtorch_scheduler) {
      // LibTorch's schedulers keep their optimizer to themselves: it can only be the one there is.
      if (config.optimizers.size() != 1) {
        throw Error("configure_optimizers returned a LibTorch scheduler with " + std::to_string(config.optimizers.size()) +
                    " optimizers, and LibTorch does not say which one it drives; wrap it: "
                    "fulgur::LibTorchScheduler(scheduler, *optimizer)");
      }
      scheduler.scheduler =
          std::make_shared<LibTorchScheduler>(std::move(scheduler.libtorch_scheduler), *config.optimizers.front());
    }
    if (!scheduler.scheduler) throw Error("configure_optimizers returned a scheduler config without a scheduler");
    scheduler.check();
  }
  optimizers_ = std::move(config.optimizers);
  lr_schedulers_ = std::move(config.lr_schedulers);
  // Schedulers are stepped by a plugin, attached here so a Module that returns one needs no
  // more than Lightning asks for.
  if (!lr_schedulers_.empty() && !find_plugin("lr_scheduler")) {
    try {
      add_plugin(PluginSpec{"lr_scheduler", {}});
    } catch (const PluginError& error) {
      throw PluginError("configure_optimizers returned learning-rate schedulers, which the lr_scheduler plugin "
                        "steps, and it could not be loaded: " + std::string(error.what()));
    }
  }
}

// --- fit ----------------------------------------------------------------------------------------

DataLoader& Trainer::given_loader(DataLoader* loader) {
  if (!loader) throw Error("trainer.fit: the training loader given is null");
  return *loader;
}

Module& Trainer::last_module(const char* run) const {
  if (!module_) {
    throw Error(std::string("trainer.") + run + "(...) without a Module runs the Module this Trainer ran last, and "
                "there is none (it ran no Module, or that Module is gone); pass it: trainer." + run + "(model, ...)");
  }
  return *module_;
}

std::string Trainer::last_module_checkpoint(const char* run, const std::string& ckpt_path) {
  if (!ckpt_path.empty()) return ckpt_path;
  spdlog::warn("`.{0}(ckpt_path=None)` was called without a model. The best model of the previous `fit` call will "
               "be used. You can pass `.{0}(ckpt_path='best')` to use the best model or `.{0}(ckpt_path='last')` to "
               "use the last model. If you pass a value, this warning will be silenced.", run);
  return "best";
}

std::map<std::string, double> Trainer::evaluate_last_module(Stage stage, RunData data, const std::string& ckpt_path) {
  const char* run = stage == Stage::Validate ? "validate" : "test";
  Module& module = last_module(run);
  return run_evaluate(module, module_overrides_, stage, std::move(data), last_module_checkpoint(run, ckpt_path));
}

std::map<std::string, double> Trainer::validate(DataModule& datamodule, const std::string& ckpt_path) {
  return evaluate_last_module(Stage::Validate, RunData{nullptr, {}, &datamodule}, ckpt_path);
}

std::map<std::string, double> Trainer::validate(LoaderRefs loaders, const std::string& ckpt_path) {
  return evaluate_last_module(Stage::Validate, RunData{nullptr, loaders.pointers(), nullptr}, ckpt_path);
}

std::map<std::string, double> Trainer::test(DataModule& datamodule, const std::string& ckpt_path) {
  return evaluate_last_module(Stage::Test, RunData{nullptr, {}, &datamodule}, ckpt_path);
}

std::map<std::string, double> Trainer::test(LoaderRefs loaders, const std::string& ckpt_path) {
  return evaluate_last_module(Stage::Test, RunData{nullptr, loaders.pointers(), nullptr}, ckpt_path);
}

std::vector<std::vector<torch::Tensor>> Trainer::predict(DataModule& datamodule, const std::string& ckpt_path) {
  Module& module = last_module("predict");
  return run_predict(module, module_overrides_, RunData{nullptr, {}, &datamodule},
                     last_module_checkpoint("predict", ckpt_path));
}

void Trainer::run_fit(Module& module, StepOverrides overrides, RunData data, const std::string& ckpt_path) {
  RunScope scope(*this, module, Stage::Fit, data.datamodule);
  module_overrides_ = overrides;
  const detail::InterruptGuard interrupts;
  ckpt_path_.clear();  // the file resolved from ckpt_path, once setup has run
  scope.run([&] {
    current_epoch_ = 0;
    global_step_ = 0;
    train_batches_seen_ = 0;
    next_epoch_ = 0;
    next_batch_ = 0;
    resume_batches_ = 0;
    resume_rng_state_ = torch::Tensor();
    stop_deferred_logged_ = false;
    save_requests_handled_ = 0;
    accumulate_grad_batches_ = options_.accumulate_grad_batches();
    max_epochs_ = options_.max_epochs().value_or(options_.max_steps() == -1 ? 1000 : -1);
    module.train();
    prepare_data(module);
    emit_setup(Stage::Fit);
    // As Lightning: the weights and the DataModule's state come back before any loader is asked
    // for; optimizers, loops and plugin states once configure_optimizers has run.
    // "last" and "hpc" are looked for once the loggers know their experiment's folders.
    ckpt_path_ = resolve_fit_checkpoint(ckpt_path);
    const std::string& resume_from = ckpt_path_;
    std::optional<Checkpoint> checkpoint;
    if (!resume_from.empty()) {
      checkpoint = read_checkpoint(resume_from);
      restore_module(*checkpoint, resume_from);
      restore_datamodule(*checkpoint, resume_from);
    }
    // Asked for after setup, as Lightning does, so that setup may build the datasets.
    resolve_loaders(Stage::Fit, data);
    last_reload_epoch_ = 0;
    // Sharded before configure_optimizers, which may ask estimated_stepping_batches.
    prepare_fit_loaders(data);
    const std::vector<DataLoader*>& val_loaders = data.eval;
    configure_optimizers(module);
    if (checkpoint) {
      restore_training_state(*checkpoint, resume_from);
      if (max_epochs_ >= 0 && next_epoch_ >= max_epochs_) {
        spdlog::warn("checkpoint '{}' resumes at epoch {}, which max_epochs={} has reached: this fit trains nothing "
                     "(raise max_epochs to train on)", resume_from, next_epoch_, max_epochs_);
      }
    }
    RunHook run{*this};
    bus_.on_fit_start(run);
    const bool validation_enabled = !val_loaders.empty() && overrides.validation;
    if (!val_loaders.empty() && !overrides.validation) {
      spdlog::info("validation loader given but the Module has no validation_step: validation is skipped");
    }
    // Lightning skips the sanity check when a fit resumes in the middle of an epoch (one resumed
    // from an epoch's end runs it); tests/parity compares this with Lightning itself.
    if (validation_enabled && resume_batches_ == 0) sanity_check(val_loaders);

    fit_loop(data, validation_enabled);

    bus_.on_fit_end(run);
    emit_teardown(Stage::Fit);
  });
}

void Trainer::prepare_data(Module& module) {
  // Lightning's rule: local rank 0 of each machine (or global rank 0 only, per the
  // prepare_data_per_node flag) prepares; everyone waits for it before setup.
  const bool local_zero = !strategy_ || strategy_->local_rank() == 0;
  const bool global_zero = global_rank() == 0;
  const auto runs_here = [&](const DataHooks& hooks) { return hooks.prepare_data_per_node ? local_zero : global_zero; };
  const LogForbidden scope(metrics_, "prepare_data");
  if (datamodule_ && runs_here(*datamodule_)) datamodule_->prepare_data();
  if (runs_here(module)) module.prepare_data();
  if (world_size() > 1) strategy_->barrier("after prepare_data");
}

void Trainer::emit_setup(Stage stage) {
  if (datamodule_) {
    const LogForbidden scope(metrics_, "setup");
    datamodule_->setup(stage);
  }
  StageHook setup{*this, stage};
  bus_.setup(setup);
}

void Trainer::emit_teardown(Stage stage) {
  if (datamodule_) datamodule_->teardown(stage);
  StageHook teardown{*this, stage};
  bus_.teardown(teardown);
}

void Trainer::resolve_loaders(Stage stage, RunData& data) {
  // Given loaders win; else the DataModule's hooks; else the Module's own (Lightning's order).
  DataHooks& source = data.datamodule ? static_cast<DataHooks&>(*data.datamodule) : static_cast<DataHooks&>(*module_);
  const std::string from = data.datamodule ? "the DataModule's " : "the Module's ";
  if (stage == Stage::Fit) {
    train_from_hooks_ = !data.train;
    val_from_hooks_ = data.eval.empty();
  }
  if (stage == Stage::Fit && !data.train) {
    owned_train_loader_ = source.train_dataloader();
    if (owned_train_loader_.empty()) {
      throw Error(data.datamodule ? "fit: the DataModule's train_dataloader() returned no loader"
                                  : "fit needs training data: pass a loader (trainer.fit(model, train_loader)), a "
                                    "DataModule (trainer.fit(model, datamodule)), or override the Module's "
                                    "train_dataloader()");
    }
    if (owned_train_loader_.size() > 1) {
      throw Error("fit: " + from + "train_dataloader() returned " + std::to_string(owned_train_loader_.size()) +
                  " loaders; training reads one (combine the datasets into one loader)");
    }
    data.train = &owned_train_loader_[0];
  }
  if (data.eval.empty()) {
    const char* hook = stage == Stage::Test ? "test_dataloader()" : stage == Stage::Predict ? "predict_dataloader()"
                                                                                             : "val_dataloader()";
    owned_loaders_ = stage == Stage::Test      ? source.test_dataloader()
                     : stage == Stage::Predict ? source.predict_dataloader()
                                               : source.val_dataloader();
    data.eval = owned_loaders_.pointers();
    if (data.eval.empty() && stage != Stage::Fit) {
      const char* run = stage == Stage::Test ? "test" : stage == Stage::Predict ? "predict" : "validate";
      throw Error(std::string(run) + " needs data: pass a loader, a DataModule whose " + hook +
                  " returns one, or override the Module's " + hook + (data.datamodule ? " (the DataModule's returned none)" : ""));
    }
  }
  for (std::size_t i = 0; i < data.eval.size(); ++i) {
    if (!data.eval[i]) throw Error("loader " + std::to_string(i) + " of the run is a null pointer");
  }
}

int64_t Trainer::batch_size_for_log(std::string& problem) {
  if (!current_batch_) return 1;  // logged outside a batch (an epoch hook): weight 1
  if (!current_batch_size_) {
    current_batch_size_ = current_batch_->batch_size(&batch_size_problem_).value_or(-1);
  }
  if (*current_batch_size_ < 0) problem = batch_size_problem_;
  return *current_batch_size_;
}

void Trainer::set_current_batch(const Batch& batch) {
  current_batch_ = &batch;
  current_batch_size_.reset();
}

int64_t Trainer::batches_to_run(const DataLoader& loader, int64_t limit) {
  const auto known = loader.size();
  return limit < 0 ? known.value_or(-1) : known ? std::min(*known, limit) : limit;
}

std::vector<int64_t> Trainer::eval_limits(Stage stage, const std::vector<DataLoader*>& loaders) const {
  const auto& limit = stage == Stage::Validate ? options_.limit_val_batches()
                      : stage == Stage::Test   ? options_.limit_test_batches()
                                               : options_.limit_predict_batches();
  const char* name = stage == Stage::Validate ? "limit_val_batches"
                     : stage == Stage::Test   ? "limit_test_batches"
                                              : "limit_predict_batches";
  std::vector<int64_t> limits;
  for (DataLoader* loader : loaders) limits.push_back(limit.resolve(loader->size(), name));
  return limits;
}

void Trainer::sanity_check(const std::vector<DataLoader*>& val_loaders) {
  // num_sanity_val_steps batches of every loader (Lightning's rule), within limit_val_batches.
  std::vector<int64_t> batches = eval_limits(Stage::Validate, val_loaders);
  const int64_t wanted = options_.num_sanity_val_steps();
  bool any = false;
  for (auto& count : batches) {
    count = wanted < 0 ? count : count < 0 ? wanted : std::min(wanted, count);
    any = any || count != 0;
  }
  if (!any) return;
  RunHook run{*this};
  sanity_checking_ = true;
  bus_.on_sanity_check_start(run);
  evaluation_loop(Stage::Validate, val_loaders, batches);
  bus_.on_sanity_check_end(run);
  sanity_checking_ = false;
  // Sanity-check values must not reach monitors or loggers, as in Lightning; metric objects
  // forget the sanity batches too.
  metrics_.reset_metric_objects();
  metrics_.clear();
}

// As Lightning: min_epochs counts completed epochs, so stopping is allowed from epoch min_epochs.
bool Trainer::can_stop_early() const { return current_epoch_ >= options_.min_epochs(); }

void Trainer::prepare_fit_loaders(RunData& data) {
  train_loader_ = data.train;
  shard(*data.train);
  for (DataLoader* loader : data.eval) shard(*loader);
  if (!options_.overfitting()) return;
  // Lightning: the same first batches every epoch, so shuffling is turned off (with a warning).
  const auto check = [this](DataLoader& loader, const std::string& which) {
    if (loader.shuffles()) {
      spdlog::warn("overfit_batches: the {} loader shuffles; shuffling is turned off so every epoch sees the same "
                   "batches", which);
      loader.disable_shuffle();
    }
    const auto available = loader.size();
    if (!available) return;
    const int64_t selected = options_.overfit_batches().resolve(available, "overfit_batches");
    if (options_.overfit_batches().is_count() && options_.overfit_batches().count() > *available) {
      throw Error("Trainer option overfit_batches=" + options_.overfit_batches().to_string() + " exceeds the " +
                  std::to_string(*available) + " batches of the " + which + " loader");
    }
    if (selected == 0 && *available > 0) {
      throw Error("Trainer option overfit_batches=" + options_.overfit_batches().to_string() + " selects no batch of the " +
                  std::to_string(*available) + " batches of the " + which + " loader; give a larger fraction or a count");
    }
  };
  check(*data.train, "training");
  for (DataLoader* loader : data.eval) check(*loader, "validation");
}

void Trainer::reload_loaders_if_due(RunData& data) {
  const int64_t every = options_.reload_dataloaders_every_n_epochs();
  if (every <= 0 || current_epoch_ - last_reload_epoch_ < every) return;
  last_reload_epoch_ = current_epoch_;
  if (!train_from_hooks_ && !val_from_hooks_) return;  // given loaders are the user's to keep
  RunData fresh{train_from_hooks_ ? nullptr : data.train, val_from_hooks_ ? std::vector<DataLoader*>{} : data.eval,
                data.datamodule};
  resolve_loaders(Stage::Fit, fresh);
  data = fresh;
  prepare_fit_loaders(data);
}

void Trainer::fit_loop(RunData& data, bool validation_enabled) {
  RunHook run{*this};
  last_logged_step_ = global_step_;
  bus_.on_train_start(run);
  if (resume_rng_state_.defined()) {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(resume_rng_state_);
    resume_rng_state_ = torch::Tensor();
  }
  const auto max_steps_reached = [this] { return options_.max_steps() >= 0 && global_step_ >= options_.max_steps(); };
  while (!(max_epochs_ >= 0 && current_epoch_ >= max_epochs_) && !max_steps_reached()) {
    if (should_stop && can_stop_early()) break;
    reload_loaders_if_due(data);
    training_epoch(*data.train, data.eval, validation_enabled);
    agree_on_should_stop();
    ++current_epoch_;
  }
  bus_.on_train_end(run);
}

bool Trainer::should_validate(int64_t batch_idx, bool is_last_batch, int64_t val_check_batches) const {
  const auto& every_n_epochs = options_.check_val_every_n_epoch();
  if (!every_n_epochs) {
    // Without an epoch cadence Lightning counts val_check_interval across epoch boundaries.
    return train_batches_seen_ % val_check_batches == 0;
  }
  if ((current_epoch_ + 1) % *every_n_epochs != 0) return false;
  if (val_check_batches < 0) return is_last_batch;
  return (batch_idx + 1) % val_check_batches == 0;
}

void Trainer::training_epoch(DataLoader& train_loader, const std::vector<DataLoader*>& val_loaders,
                             bool validation_enabled) {
  train_loader.start_epoch(current_epoch_);
  num_training_batches_ = options_.limit_train_batches().resolve(train_loader.size(), "limit_train_batches");

  int64_t val_check_batches = -1;  // -1: at the end of the epoch
  std::vector<int64_t> val_batches;
  bool any_val_batches = false;
  if (validation_enabled) {
    val_batches = eval_limits(Stage::Validate, val_loaders);
    for (const int64_t count : val_batches) any_val_batches = any_val_batches || count != 0;
    const auto& interval = options_.val_check_interval();
    if (interval.is_count()) {
      val_check_batches = interval.count();
      if (options_.check_val_every_n_epoch() && num_training_batches_ >= 0 && val_check_batches > num_training_batches_) {
        throw Error("Trainer option val_check_interval=" + interval.to_string() + " exceeds the " +
                    std::to_string(num_training_batches_) + " training batches of an epoch");
      }
    } else if (interval.fraction() < 1.0) {
      if (num_training_batches_ < 0) {
        throw Error("Trainer option val_check_interval=" + interval.to_string() +
                    " needs a training loader that knows its length; give a batch count");
      }
      val_check_batches = std::max<int64_t>(1, static_cast<int64_t>(num_training_batches_ * interval.fraction()));
    }
  }

  EpochHook epoch_hook{*this, current_epoch_};
  // An epoch a fit resumes in the middle of has started already: as in Lightning, no second
  // on_train_epoch_start (plugins that set per-epoch state also do so at on_train_start).
  if (resume_batches_ == 0) bus_.on_train_epoch_start(epoch_hook);

  // A fit resumed mid-epoch continues with the batch that would have come next.
  if (resume_batches_ > 0 && num_training_batches_ >= 0 && resume_batches_ > num_training_batches_) {
    throw Error("checkpoint '" + ckpt_path_ + "' resumes epoch " + std::to_string(current_epoch_) + " after batch " +
                std::to_string(resume_batches_) + ", but an epoch here has " + std::to_string(num_training_batches_) +
                " training batches (another loader, batch size or limit_train_batches than the run that wrote it, "
                "or an edited file)");
  }
  const int64_t first_batch = resume_batches_ > 0 ? train_loader.skip(resume_batches_) : 0;
  resume_batches_ = 0;
  next_epoch_ = current_epoch_;
  next_batch_ = first_batch;

  // One batch of look-ahead tells which batch is the last even for loaders of unknown length.
  const bool any_left = num_training_batches_ < 0 || first_batch < num_training_batches_;
  std::optional<Batch> next = any_left ? train_loader.next() : std::nullopt;
  for (int64_t batch_idx = first_batch; next; ++batch_idx) {
    Batch batch = std::move(*next);
    const bool limit_reached = num_training_batches_ >= 0 && batch_idx + 1 >= num_training_batches_;
    next = limit_reached ? std::nullopt : train_loader.next();
    const bool is_last_batch = !next;

    training_batch(batch, batch_idx, is_last_batch);
    ++train_batches_seen_;

    const bool steps_done = options_.max_steps() >= 0 && global_step_ >= options_.max_steps();
    // As Lightning: a validation batch validates even when it is the last step max_steps allows
    // (fast_dev_run validates after its n batches).
    if (validation_enabled && any_val_batches && should_validate(batch_idx, is_last_batch, val_check_batches)) {
      evaluation_loop(Stage::Validate, val_loaders, val_batches);
      module_->train();
      metrics_.set_context(LogContext::Training);
      agree_on_should_stop();
    }
    if (interrupt_due()) {
      const int signal = detail::InterruptGuard::pending();
      const std::string where = " at epoch " + std::to_string(current_epoch_) + " after batch " + std::to_string(batch_idx);
      if (signal != 0) throw Error(std::string("fit interrupted by ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + where);
      throw Error("fit interrupted" + where + ": another rank received SIGINT or SIGTERM, and all ranks stop together");
    }
    if (save_request_due()) save_for_preemption();
    if (steps_done) break;
    if (should_stop) {
      if (can_stop_early()) break;
      if (!stop_deferred_logged_) {
        spdlog::info("should_stop was set, but min_epochs={} have not completed: training goes on until they have",
                     options_.min_epochs());
        stop_deferred_logged_ = true;
      }
    }
  }

  // Only an epoch whose batches ran out is over; one stopped early resumes where it stopped.
  if (!next) {
    next_epoch_ = current_epoch_ + 1;
    next_batch_ = 0;
  }
  bus_.on_train_epoch_end(epoch_hook);
}

void Trainer::training_batch(Batch& raw_batch, int64_t batch_idx, bool is_last_batch) {
  Batch batch = transfer(std::move(raw_batch), 0);
  set_current_batch(batch);
  metrics_.set_context(LogContext::Training);

  BatchStartHook start{*this, batch, batch_idx};
  bus_.on_train_batch_start(start);

  torch::Tensor loss;
  if (!module_->automatic_optimization()) {
    try {
      module_->step_output_ = StepOutput{};
      loss = module_->training_step(batch, batch_idx);
    } catch (...) {
      rethrow_with_context("training_step", batch_idx);
    }
  } else if (step_runner_) {
    const auto window = window_position(batch_idx, accumulate_grad_batches_, is_last_batch);
    const TrainingStep step(
        *this, batch, batch_idx, is_last_batch, window.zeroes_gradients, window.steps_optimizer,
        [&](const EagerStepOptions& eager) {
          if (!eager.inputs) return eager_step(batch, batch_idx, is_last_batch, eager.zero_grad_in_place);
          // log() reads the batch size from the current batch: the inputs the step runs on.
          set_current_batch(*eager.inputs);
          torch::Tensor result = eager_step(*eager.inputs, batch_idx, is_last_batch, eager.zero_grad_in_place);
          set_current_batch(batch);
          return result;
        },
        [this](int64_t steps) {
          if (steps < 0) throw Error("a step runner counted " + std::to_string(steps) + " optimizer steps");
          global_step_ += steps;
        });
    loss = step_runner_->run_step(step);
  } else {
    loss = eager_step(batch, batch_idx, is_last_batch);
  }
  next_batch_ = batch_idx + 1;

  BatchEndHook end{*this, loss, batch, batch_idx};
  bus_.on_train_batch_end(end);
  current_batch_ = nullptr;
}

torch::Tensor Trainer::eager_step(const Batch& batch, int64_t batch_idx, bool is_last_batch,
                                  bool zero_grad_in_place) {
  torch::Tensor loss;
  try {
    module_->step_output_ = StepOutput{};
    loss = module_->training_step(batch, batch_idx);
  } catch (...) {
    rethrow_with_context("training_step", batch_idx);
  }
  if (!loss.defined()) {
    throw Error("training_step returned no loss (an undefined tensor) at epoch " + std::to_string(current_epoch_) +
                ", batch " + std::to_string(batch_idx) +
                "; return the loss tensor, or turn automatic optimization off");
  }
  if (loss.numel() != 1) {
    throw Error("training_step must return a scalar loss, got a tensor of shape " + c10::str(loss.sizes()) +
                " at epoch " + std::to_string(current_epoch_) + ", batch " + std::to_string(batch_idx));
  }
  if (!loss.requires_grad()) {
    throw Error("training_step returned a loss that does not require grad (was it detached, or computed "
                "under NoGradGuard?) at epoch " + std::to_string(current_epoch_) + ", batch " +
                std::to_string(batch_idx));
  }
  if (options_.detect_anomaly()) {
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      throw Error("detect_anomaly: the training loss is " + std::to_string(value) + " at epoch " +
                  std::to_string(current_epoch_) + ", batch " + std::to_string(batch_idx) + " (global step " +
                  std::to_string(global_step_) + ")");
    }
  }

  const int64_t accumulate = accumulate_grad_batches_;
  const auto window = window_position(batch_idx, accumulate, is_last_batch);
  if (window.zeroes_gradients) optimizer_zero_grad(0, zero_grad_in_place);
  // Averaging over the window makes the summed gradient that of one big batch.
  backward(accumulate > 1 ? loss / static_cast<double>(accumulate) : loss);
  if (window.steps_optimizer) optimizer_step(0);
  return loss;
}

void Trainer::backward(torch::Tensor loss) {
  BeforeBackwardHook before{*this, loss};
  bus_.on_before_backward(before);
  before.loss.backward();
  AfterBackwardHook after{*this};
  bus_.on_after_backward(after);
}

void Trainer::optimizer_step(std::size_t optimizer_idx) {
  auto& optimizer = *optimizers_.at(optimizer_idx);
  OptimizerHook hook{*this, optimizer, optimizer_idx};
  bus_.on_before_optimizer_step(hook);
  if (!hook.skip_step) optimizer.step();
  ++global_step_;
}

void Trainer::optimizer_zero_grad(std::size_t optimizer_idx, bool in_place) {
  auto& optimizer = *optimizers_.at(optimizer_idx);
  OptimizerHook hook{*this, optimizer, optimizer_idx};
  bus_.on_before_zero_grad(hook);
  if (!in_place) {
    compat::zero_grad(optimizer);
    return;
  }
  for (auto& group : optimizer.param_groups()) {
    for (auto& parameter : group.params()) {
      if (parameter.grad().defined()) parameter.mutable_grad().zero_();
    }
  }
}

Batch Trainer::transfer(Batch batch, int64_t dataloader_idx) {
  // Lightning's order: on_before_batch_transfer, transfer_batch_to_device, on_after_batch_transfer
  // (the Module's), then the plugins' (a precision plugin converts the batch last).
  Batch moved = module_->transfer_batch_to_device(module_->on_before_batch_transfer(std::move(batch), dataloader_idx),
                                                  device_);
  // Every tensor must be on the module's device, except that an override of
  // transfer_batch_to_device may keep some on the CPU on purpose (e.g. sequence lengths) as long
  // as it moved the rest.
  bool any_tensor = false, any_here = false;
  std::string stray;
  moved.for_each_tensor([&](const torch::Tensor& tensor) {
    any_tensor = true;
    if (tensor.device() == device_) {
      any_here = true;
    } else if (!tensor.device().is_cpu() && stray.empty()) {
      stray = tensor.device().str();
    }
  });
  if (!stray.empty() || (any_tensor && !any_here)) {
    throw Error("the batch holds a tensor on " + (stray.empty() ? std::string("cpu") : stray) + " but the module is on " +
                device_.str() + " (transfer_batch_to_device must move the batch's tensors to the module's device)");
  }
  moved = module_->on_after_batch_transfer(std::move(moved), dataloader_idx);
  BatchTransferHook hook{*this, moved};
  bus_.on_after_batch_transfer(hook);
  return moved;
}

void Trainer::rethrow_with_context(const char* step, int64_t batch_idx) {
  const std::string where = std::string(step) + " failed at epoch " + std::to_string(current_epoch_) + ", batch " +
                            std::to_string(batch_idx) + ": ";
  try {
    throw;
  } catch (const Error& error) {
    throw Error(where + error.what());
  } catch (const c10::Error& error) {
    throw Error(where + error.what_without_backtrace());
  }
}

// --- validate / test / predict ------------------------------------------------------------------

template <typename Body>
void Trainer::read_loaders(const std::vector<DataLoader*>& loaders, const std::vector<int64_t>& limits, Body&& body) {
  for (std::size_t idx = 0; idx < loaders.size(); ++idx) {
    DataLoader& loader = *loaders[idx];
    const int64_t limit = limits[idx];
    const auto dataloader_idx = static_cast<int64_t>(idx);
    dataloader_idx_ = dataloader_idx;
    // Lightning names values per loader only when the loop reads several.
    metrics_.set_dataloader_suffix(loaders.size() > 1 ? "/dataloader_idx_" + std::to_string(idx) : "");
    num_eval_batches_ = batches_to_run(loader, limit);
    if (limit == 0) continue;
    loader.start_epoch(0);
    for (int64_t batch_idx = 0; limit < 0 || batch_idx < limit; ++batch_idx) {
      auto raw = loader.next();
      if (!raw) break;
      Batch batch = transfer(std::move(*raw), dataloader_idx);
      set_current_batch(batch);
      body(batch, batch_idx, dataloader_idx);
      current_batch_ = nullptr;
    }
  }
  metrics_.set_dataloader_suffix("");
  dataloader_idx_ = 0;
}

void Trainer::evaluation_loop(Stage stage, const std::vector<DataLoader*>& loaders,
                              const std::vector<int64_t>& max_batches) {
  const bool validating = stage == Stage::Validate;
  auto& on_start = validating ? bus_.on_validation_start : bus_.on_test_start;
  auto& on_end = validating ? bus_.on_validation_end : bus_.on_test_end;
  auto& on_epoch_start = validating ? bus_.on_validation_epoch_start : bus_.on_test_epoch_start;
  auto& on_epoch_end = validating ? bus_.on_validation_epoch_end : bus_.on_test_epoch_end;
  auto& on_batch_start = validating ? bus_.on_validation_batch_start : bus_.on_test_batch_start;
  auto& on_batch_end = validating ? bus_.on_validation_batch_end : bus_.on_test_batch_end;
  const char* step_name = validating ? "validation_step" : "test_step";
  const LogContext context = validating ? LogContext::Validation : LogContext::Test;

  module_->eval();
  const EvaluationGradMode grad_mode(inference_mode());
  // The progress bar reads the first loader's length at the loop's start; each loader sets its own.
  num_eval_batches_ = loaders.empty() ? 0 : batches_to_run(*loaders[0], max_batches[0]);
  RunHook run{*this};
  on_start(run);
  EpochHook epoch_hook{*this, current_epoch_};
  on_epoch_start(epoch_hook);
  metrics_.set_context(context);
  // One epoch over all the loaders, as Lightning's evaluation loop runs it.
  read_loaders(loaders, max_batches, [&](Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
    BatchStartHook start{*this, batch, batch_idx, dataloader_idx};
    on_batch_start(start);
    torch::Tensor outputs;
    try {
      outputs = validating ? module_->validation_step(batch, batch_idx, dataloader_idx)
                           : module_->test_step(batch, batch_idx, dataloader_idx);
    } catch (...) {
      rethrow_with_context(step_name, batch_idx);
    }
    BatchEndHook end{*this, outputs, batch, batch_idx, dataloader_idx};
    on_batch_end(end);
  });
  on_epoch_end(epoch_hook);  // publishes the epoch metrics (group EpochMetrics)
  on_end(run);
}

std::map<std::string, double> Trainer::run_evaluate(Module& module, StepOverrides overrides, Stage stage, RunData data,
                                                    const std::string& ckpt_path) {
  if (stage == Stage::Validate && !overrides.validation) {
    throw Error("Trainer::validate needs a Module that implements validation_step");
  }
  if (stage == Stage::Test && !overrides.test) throw Error("Trainer::test needs a Module that implements test_step");
  RunScope scope(*this, module, stage, data.datamodule);
  module_overrides_ = overrides;
  return scope.run([&] {
    prepare_data(module);
    emit_setup(stage);
    resolve_loaders(stage, data);
    for (DataLoader* loader : data.eval) shard(*loader);
    if (!ckpt_path.empty()) restore_for_evaluation(ckpt_path);
    evaluation_loop(stage, data.eval, eval_limits(stage, data.eval));
    emit_teardown(stage);

    std::map<std::string, double> results;
    for (const auto& [name, value] : metrics_.epoch_metrics()) results[name] = value.item<double>();
    return results;
  });
}

std::vector<std::vector<torch::Tensor>> Trainer::run_predict(Module& module, StepOverrides overrides, RunData data,
                                                             const std::string& ckpt_path) {
  if (!overrides.predict && !overrides.forward) {
    throw Error("Trainer::predict needs a Module that implements predict_step, or forward(x) (the default predict_step "
                "calls it on the batch)");
  }
  RunScope scope(*this, module, Stage::Predict, data.datamodule);
  module_overrides_ = overrides;
  return scope.run([&] {
    prepare_data(module);
    emit_setup(Stage::Predict);
    resolve_loaders(Stage::Predict, data);
    if (!ckpt_path.empty()) restore_for_evaluation(ckpt_path);
    const std::vector<int64_t> limits = eval_limits(Stage::Predict, data.eval);
    module.eval();
    const EvaluationGradMode grad_mode(inference_mode());
    metrics_.set_context(LogContext::Predict);
    if (!data.eval.empty()) num_eval_batches_ = batches_to_run(*data.eval[0], limits[0]);
    RunHook run{*this};
    bus_.on_predict_start(run);
    EpochHook epoch_hook{*this, 0};
    bus_.on_predict_epoch_start(epoch_hook);
    std::vector<std::vector<torch::Tensor>> predictions(data.eval.size());
    read_loaders(data.eval, limits, [&](Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
      BatchStartHook start{*this, batch, batch_idx, dataloader_idx};
      bus_.on_predict_batch_start(start);
      torch::Tensor prediction;
      try {
        const LogForbidden scope(metrics_, "predict_step");
        if (overrides.predict) {
          prediction = module.predict_step(batch, batch_idx, dataloader_idx);
        } else {
          // Lightning's default predict_step: forward on the batch (its inputs, when it is a list).
          prediction = overrides.forward(module, batch.is_tensor() ? batch.tensor() : batch[0]);
        }
      } catch (...) {
        rethrow_with_context("predict_step", batch_idx);
      }
      BatchEndHook end{*this, prediction, batch, batch_idx, dataloader_idx};
      bus_.on_predict_batch_end(end);
      predictions[static_cast<std::size_t>(dataloader_idx)].push_back(prediction);
    });
    bus_.on_predict_epoch_end(epoch_hook);
    bus_.on_predict_end(run);
    emit_teardown(Stage::Predict);
    return predictions;
  });
}

}  // namespace fulgur
