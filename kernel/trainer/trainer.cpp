#include "fulgur/trainer.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <torch/torch.h>

#include <spdlog/spdlog.h>

#include "fulgur/compat.h"
#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/strategy.h"
#include "interrupt_guard.h"

namespace fulgur {

// Attaches a Module to the Trainer for one run and detaches it however the run ends; emits
// on_exception for an error escaping the run.
class Trainer::RunScope {
 public:
  RunScope(Trainer& trainer, Module& module, Stage stage) : trainer_(trainer) {
    trainer_.begin_run(module, stage);
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
      try {
        trainer_.bus_.on_exception(hook);
      } catch (const std::exception& hook_error) {
        spdlog::error("on_exception: a slot failed while handling an error: {}", hook_error.what());
      }
      throw;
    }
  }

 private:
  Trainer& trainer_;
};

namespace {

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

int64_t batch_size_of(const Batch& batch) {
  return batch.data.defined() && batch.data.dim() > 0 ? batch.data.size(0) : 1;
}

}  // namespace

Trainer::Trainer(TrainerOptions options) : options_(std::move(options)) {
  options_.validate();
  connect_loggers();
  // Lightning's default callbacks come after the user's, checkpointing last.
  const std::pair<bool, const char*> defaults[] = {{options_.enable_progress_bar, "progress_bar"},
                                                   {options_.enable_model_summary, "model_summary"},
                                                   {options_.enable_checkpointing, "model_checkpoint"}};
  std::vector<PluginSpec> specs = options_.plugins;
  std::vector<std::string> by_default;
  const auto named = [&specs](const std::string& name) {
    return std::any_of(specs.begin(), specs.end(), [&](const auto& spec) { return spec.name == name; });
  };
  if (!options_.max_time.empty() && !named("timer")) specs.push_back(PluginSpec{"timer", {{"duration", options_.max_time}}});
  if (options_.gradient_clip_val && !named("grad_clip")) {
    std::ostringstream value;
    value.precision(17);
    value << *options_.gradient_clip_val;
    specs.push_back(PluginSpec{"grad_clip", {{"gradient_clip_val", value.str()},
                                             {"gradient_clip_algorithm", options_.gradient_clip_algorithm}}});
  }
  if (options_.strategy == "single_device" && !named("single_device")) {
    specs.insert(specs.begin(), PluginSpec{"single_device", {}});
  }
  if (options_.strategy == "ddp" && !named("ddp")) {
    specs.insert(specs.begin(), PluginSpec{"ddp", {{"devices", std::to_string(options_.devices)},
                                                   {"num_nodes", std::to_string(options_.num_nodes)},
                                                   {"accelerator", options_.accelerator}}});
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
  const PluginHost host(options_.plugin_dirs);
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
  if (auto* logger = dynamic_cast<Logger*>(&loaded.plugin())) loggers_.push_back(logger);
  if (auto* strategy = dynamic_cast<Strategy*>(&loaded.plugin())) {
    if (strategy_) throw PluginError("two strategies: '" + loaded->name() + "' and another one; a run has one");
    strategy_ = strategy;
    metrics_.set_reducer([strategy](at::Tensor& value) { strategy->all_reduce(value, ReduceOp::Mean); });
  }
  plugins_.push_back(std::move(loaded));
  return plugins_.back().plugin();
}

Trainer::~Trainer() = default;

Plugin& Trainer::add_plugin(std::unique_ptr<Plugin> plugin) {
  if (!plugin) throw PluginError("add_plugin: no plugin given");
  return add_loaded_plugin(LoadedPlugin(nullptr, std::move(plugin)));
}

Plugin& Trainer::add_plugin(const PluginSpec& spec) {
  if (find_plugin(spec.name)) throw PluginError("two plugins are named '" + spec.name + "'");
  return add_loaded_plugin(PluginHost(options_.plugin_dirs).load(spec));
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
  return (std::filesystem::path(options_.default_root_dir) / "checkpoints").string();
}

int64_t Trainer::global_rank() const { return strategy_ ? strategy_->global_rank() : 0; }
int64_t Trainer::world_size() const { return strategy_ ? strategy_->world_size() : 1; }

void Trainer::shard(DataLoader& loader) {
  if (world_size() > 1 && options_.use_distributed_sampler) loader.shard(global_rank(), world_size());
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

void Trainer::set_accumulate_grad_batches(int64_t batches) {
  if (batches < 1) throw Error("accumulate_grad_batches must be >= 1, got " + std::to_string(batches));
  accumulate_grad_batches_ = batches;
}

// --- run set-up -------------------------------------------------------------------------------

void Trainer::begin_run(Module& module, Stage stage) {
  if (running_) throw Error("this Trainer is already running; runs cannot nest");
  if (module.trainer_) throw Error("this Module is already attached to a running Trainer");
  stage_ = stage;
  should_stop = false;
  interrupt_agreed_ = false;
  sanity_checking_ = false;
  metrics_.clear();
  if (options_.seed) torch::manual_seed(*options_.seed);
  compat::use_deterministic_algorithms(options_.deterministic);
  device_ = resolve_device(options_.accelerator, strategy_ ? strategy_->local_rank() : 0);
  module.to(device_);
  module.device_ = device_;
  module.trainer_ = this;
  module_ = &module;
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
    if (strategy_ && dynamic_cast<Plugin*>(strategy_) == plugin) {
      throw PluginError("configure_callbacks cannot replace the strategy plugin '" + name + "'");
    }
    plugins_.erase(it);  // its scoped connections leave the bus with it
    return;
  }
}

int64_t Trainer::estimated_stepping_batches() const {
  if (max_epochs_ < 0) {
    if (options_.max_steps < 0) {
      throw Error("estimated_stepping_batches: training is unlimited (max_epochs=-1 and max_steps=-1)");
    }
    return options_.max_steps;
  }
  if (!train_loader_) {
    throw Error("estimated_stepping_batches is known during fit (e.g. in configure_optimizers), when the training "
                "loader is");
  }
  const int64_t batches = options_.limit_train_batches.resolve(train_loader_->size(), "limit_train_batches");
  if (batches < 0) {
    if (options_.max_steps >= 0) return options_.max_steps;
    throw Error("estimated_stepping_batches: the training loader has no known length; set max_steps");
  }
  const int64_t per_epoch = (batches + accumulate_grad_batches_ - 1) / accumulate_grad_batches_;
  const int64_t total = per_epoch * std::max<int64_t>(max_epochs_, 1);
  return options_.max_steps >= 0 ? std::min(total, options_.max_steps) : total;
}

void Trainer::end_run() {
  module_connections_.clear();
  train_loader_ = nullptr;
  metrics_.set_context(LogContext::None);
  if (module_) module_->trainer_ = nullptr;
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
  for (const auto& scheduler : config.lr_schedulers) {
    if (!scheduler.scheduler) throw Error("configure_optimizers returned a scheduler config without a scheduler");
    if (scheduler.interval != "epoch" && scheduler.interval != "step") {
      throw Error("lr scheduler config: interval must be 'epoch' or 'step', got '" + scheduler.interval + "'");
    }
    if (scheduler.frequency < 1) {
      throw Error("lr scheduler config: frequency must be >= 1, got " + std::to_string(scheduler.frequency));
    }
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

void Trainer::run_fit(Module& module, StepOverrides overrides, DataLoader& train_loader, DataLoader* val_loader,
                      const std::string& ckpt_path) {
  RunScope scope(*this, module, Stage::Fit);
  const detail::InterruptGuard interrupts;
  ckpt_path_ = ckpt_path;
  scope.run([&] {
    current_epoch_ = 0;
    global_step_ = 0;
    train_batches_seen_ = 0;
    next_epoch_ = 0;
    next_batch_ = 0;
    resume_batches_ = 0;
    resume_rng_state_ = torch::Tensor();
    stop_deferred_logged_ = false;
    accumulate_grad_batches_ = options_.accumulate_grad_batches;
    max_epochs_ = options_.max_epochs.value_or(options_.max_steps == -1 ? 1000 : -1);
    module.train();
    train_loader_ = &train_loader;

    StageHook setup{*this, Stage::Fit};
    bus_.setup(setup);
    // Sharded before configure_optimizers, which may ask estimated_stepping_batches.
    shard(train_loader);
    if (val_loader) shard(*val_loader);
    std::optional<Checkpoint> checkpoint;
    if (!ckpt_path.empty()) {
      checkpoint = read_checkpoint(ckpt_path);
      restore_module(*checkpoint, ckpt_path);
    }
    configure_optimizers(module);
    if (checkpoint) restore_training_state(*checkpoint, ckpt_path);
    RunHook run{*this};
    bus_.on_fit_start(run);
    const bool validation_enabled = val_loader && overrides.validation;
    if (val_loader && !overrides.validation) {
      spdlog::info("validation loader given but the Module has no validation_step: validation is skipped");
    }
    // Lightning skips the sanity check when a fit resumes in the middle of an epoch (one resumed
    // from an epoch's end runs it); tests/parity compares this with Lightning itself.
    if (validation_enabled && resume_batches_ == 0) sanity_check(*val_loader);

    fit_loop(train_loader, val_loader, validation_enabled);

    bus_.on_fit_end(run);
    StageHook teardown{*this, Stage::Fit};
    bus_.teardown(teardown);
  });
}

void Trainer::sanity_check(DataLoader& val_loader) {
  const int64_t val_batches = options_.limit_val_batches.resolve(val_loader.size(), "limit_val_batches");
  const int64_t wanted = options_.num_sanity_val_steps;
  const int64_t batches = wanted < 0 ? val_batches : val_batches < 0 ? wanted : std::min(wanted, val_batches);
  if (batches == 0) return;
  RunHook run{*this};
  sanity_checking_ = true;
  bus_.on_sanity_check_start(run);
  evaluation_loop(Stage::Validate, val_loader, batches);
  bus_.on_sanity_check_end(run);
  sanity_checking_ = false;
  // Sanity-check values must not reach monitors or loggers, as in Lightning.
  metrics_.clear();
}

// As Lightning: min_epochs counts completed epochs, so stopping is allowed from epoch min_epochs.
bool Trainer::can_stop_early() const { return current_epoch_ >= options_.min_epochs; }

void Trainer::fit_loop(DataLoader& train_loader, DataLoader* val_loader, bool validation_enabled) {
  RunHook run{*this};
  last_logged_step_ = global_step_;
  bus_.on_train_start(run);
  if (resume_rng_state_.defined()) {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(resume_rng_state_);
    resume_rng_state_ = torch::Tensor();
  }
  const auto max_steps_reached = [this] { return options_.max_steps >= 0 && global_step_ >= options_.max_steps; };
  while (!(max_epochs_ >= 0 && current_epoch_ >= max_epochs_) && !max_steps_reached()) {
    if (should_stop && can_stop_early()) break;
    training_epoch(train_loader, val_loader, validation_enabled);
    agree_on_should_stop();
    ++current_epoch_;
  }
  bus_.on_train_end(run);
}

bool Trainer::should_validate(int64_t batch_idx, bool is_last_batch, int64_t val_check_batches) const {
  const auto& every_n_epochs = options_.check_val_every_n_epoch;
  if (!every_n_epochs) {
    // Without an epoch cadence Lightning counts val_check_interval across epoch boundaries.
    return train_batches_seen_ % val_check_batches == 0;
  }
  if ((current_epoch_ + 1) % *every_n_epochs != 0) return false;
  if (val_check_batches < 0) return is_last_batch;
  return (batch_idx + 1) % val_check_batches == 0;
}

void Trainer::training_epoch(DataLoader& train_loader, DataLoader* val_loader, bool validation_enabled) {
  train_loader.start_epoch(current_epoch_);
  num_training_batches_ = options_.limit_train_batches.resolve(train_loader.size(), "limit_train_batches");

  int64_t val_check_batches = -1;  // -1: at the end of the epoch
  int64_t val_batches = 0;
  if (validation_enabled) {
    val_batches = options_.limit_val_batches.resolve(val_loader->size(), "limit_val_batches");
    const auto& interval = options_.val_check_interval;
    if (interval.is_count()) {
      val_check_batches = interval.count();
      if (options_.check_val_every_n_epoch && num_training_batches_ >= 0 && val_check_batches > num_training_batches_) {
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

    const bool steps_done = options_.max_steps >= 0 && global_step_ >= options_.max_steps;
    if (validation_enabled && val_batches != 0 && !steps_done &&
        should_validate(batch_idx, is_last_batch, val_check_batches)) {
      evaluation_loop(Stage::Validate, *val_loader, val_batches);
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
    if (steps_done) break;
    if (should_stop) {
      if (can_stop_early()) break;
      if (!stop_deferred_logged_) {
        spdlog::info("should_stop was set, but min_epochs={} have not completed: training goes on until they have",
                     options_.min_epochs);
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
  Batch batch = transfer(raw_batch);
  current_batch_size_ = batch_size_of(batch);
  metrics_.set_context(LogContext::Training);

  BatchStartHook start{*this, batch, batch_idx};
  bus_.on_train_batch_start(start);

  torch::Tensor loss;
  try {
    module_->step_output_ = StepOutput{};
    loss = module_->training_step(batch, batch_idx);
  } catch (...) {
    rethrow_with_context("training_step", batch_idx);
  }

  if (module_->automatic_optimization()) {
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
    if (options_.detect_anomaly) {
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw Error("detect_anomaly: the training loss is " + std::to_string(value) + " at epoch " +
                    std::to_string(current_epoch_) + ", batch " + std::to_string(batch_idx) + " (global step " +
                    std::to_string(global_step_) + ")");
      }
    }

    const int64_t accumulate = accumulate_grad_batches_;
    if (batch_idx % accumulate == 0) optimizer_zero_grad(0);
    // Averaging over the window makes the summed gradient that of one big batch.
    backward(accumulate > 1 ? loss / static_cast<double>(accumulate) : loss);
    if ((batch_idx + 1) % accumulate == 0 || is_last_batch) optimizer_step(0);
  }
  next_batch_ = batch_idx + 1;

  BatchEndHook end{*this, loss, batch, batch_idx};
  bus_.on_train_batch_end(end);
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

void Trainer::optimizer_zero_grad(std::size_t optimizer_idx) {
  auto& optimizer = *optimizers_.at(optimizer_idx);
  OptimizerHook hook{*this, optimizer, optimizer_idx};
  bus_.on_before_zero_grad(hook);
  compat::zero_grad(optimizer);
}

Batch Trainer::transfer(const Batch& batch) {
  Batch moved = module_->transfer_batch_to_device(batch, device_);
  for (const torch::Tensor* tensor : {&moved.data, &moved.target}) {
    if (tensor->defined() && tensor->device() != device_) {
      throw Error("the batch is on " + tensor->device().str() + " but the module is on " + device_.str() +
                  " (transfer_batch_to_device must move every tensor of the batch to the module's device)");
    }
  }
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

void Trainer::evaluation_loop(Stage stage, DataLoader& loader, int64_t max_batches) {
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
  torch::NoGradGuard no_grad;
  const auto known = loader.size();
  num_eval_batches_ = max_batches < 0 ? known.value_or(-1) : known ? std::min(*known, max_batches) : max_batches;
  RunHook run{*this};
  on_start(run);
  loader.start_epoch(0);
  EpochHook epoch_hook{*this, current_epoch_};
  on_epoch_start(epoch_hook);
  metrics_.set_context(context);
  for (int64_t batch_idx = 0; max_batches < 0 || batch_idx < max_batches; ++batch_idx) {
    auto raw = loader.next();
    if (!raw) break;
    Batch batch = transfer(*raw);
    current_batch_size_ = batch_size_of(batch);
    BatchStartHook start{*this, batch, batch_idx};
    on_batch_start(start);
    torch::Tensor outputs;
    try {
      outputs = validating ? module_->validation_step(batch, batch_idx) : module_->test_step(batch, batch_idx);
    } catch (...) {
      rethrow_with_context(step_name, batch_idx);
    }
    BatchEndHook end{*this, outputs, batch, batch_idx};
    on_batch_end(end);
  }
  on_epoch_end(epoch_hook);  // publishes the epoch metrics (group EpochMetrics)
  on_end(run);
}

std::map<std::string, double> Trainer::run_evaluate(Module& module, StepOverrides overrides, Stage stage,
                                                    DataLoader& loader, const std::string& ckpt_path) {
  if (stage == Stage::Validate && !overrides.validation) {
    throw Error("Trainer::validate needs a Module that implements validation_step");
  }
  if (stage == Stage::Test && !overrides.test) throw Error("Trainer::test needs a Module that implements test_step");
  RunScope scope(*this, module, stage);
  return scope.run([&] {
    shard(loader);
    StageHook setup{*this, stage};
    bus_.setup(setup);
    if (!ckpt_path.empty()) restore_for_evaluation(ckpt_path);
    const auto& limit = stage == Stage::Validate ? options_.limit_val_batches : options_.limit_test_batches;
    const int64_t max_batches =
        limit.resolve(loader.size(), stage == Stage::Validate ? "limit_val_batches" : "limit_test_batches");
    evaluation_loop(stage, loader, max_batches);
    StageHook teardown{*this, stage};
    bus_.teardown(teardown);

    std::map<std::string, double> results;
    for (const auto& [name, value] : metrics_.epoch_metrics()) results[name] = value.item<double>();
    return results;
  });
}

std::vector<torch::Tensor> Trainer::run_predict(Module& module, StepOverrides overrides, DataLoader& loader,
                                                const std::string& ckpt_path) {
  if (!overrides.predict && !overrides.forward) {
    throw Error("Trainer::predict needs a Module that implements predict_step, or forward(x) (the default predict_step "
                "calls it on the batch's data)");
  }
  RunScope scope(*this, module, Stage::Predict);
  return scope.run([&] {
    StageHook setup{*this, Stage::Predict};
    bus_.setup(setup);
    if (!ckpt_path.empty()) restore_for_evaluation(ckpt_path);
    const int64_t max_batches = options_.limit_predict_batches.resolve(loader.size(), "limit_predict_batches");
    module.eval();
    torch::NoGradGuard no_grad;
    metrics_.set_context(LogContext::Predict);
    const auto known = loader.size();
    num_eval_batches_ = max_batches < 0 ? known.value_or(-1) : known ? std::min(*known, max_batches) : max_batches;
    RunHook run{*this};
    bus_.on_predict_start(run);
    loader.start_epoch(0);
    EpochHook epoch_hook{*this, 0};
    bus_.on_predict_epoch_start(epoch_hook);
    std::vector<torch::Tensor> predictions;
    for (int64_t batch_idx = 0; max_batches < 0 || batch_idx < max_batches; ++batch_idx) {
      auto raw = loader.next();
      if (!raw) break;
      Batch batch = transfer(*raw);
      current_batch_size_ = batch_size_of(batch);
      BatchStartHook start{*this, batch, batch_idx};
      bus_.on_predict_batch_start(start);
      torch::Tensor prediction;
      try {
        const LogForbidden scope(metrics_, "predict_step");
        prediction = overrides.predict ? module.predict_step(batch, batch_idx) : overrides.forward(module, batch.data);
      } catch (...) {
        rethrow_with_context("predict_step", batch_idx);
      }
      BatchEndHook end{*this, prediction, batch, batch_idx};
      bus_.on_predict_batch_end(end);
      predictions.push_back(prediction);
    }
    bus_.on_predict_epoch_end(epoch_hook);
    bus_.on_predict_end(run);
    StageHook teardown{*this, Stage::Predict};
    bus_.teardown(teardown);
    return predictions;
  });
}

}  // namespace fulgur
