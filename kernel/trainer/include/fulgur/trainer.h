// fulgur::Trainer: the loop kernel.
//
// It runs fit / validate / test / predict over a Module and DataLoaders, emits every lifecycle
// hook on its HookBus, and does nothing else: progress bars, checkpoints, loggers, precision,
// clipping and the rest are plugins that connect to the bus.
//
//   fulgur::TrainerOptions options;
//   options.max_epochs(10);
//   fulgur::Trainer trainer(options);
//   trainer.fit(model, train_loader, val_loader);      // or trainer.fit(model, datamodule)
//   auto results = trainer.test(model, test_loader);   // {"test_acc": 0.97, ...}
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/signals2/connection.hpp>
#include <torch/types.h>

#include "fulgur/data.h"
#include "fulgur/hook_bus.h"
#include "fulgur/logger.h"
#include "fulgur/loop_state.h"
#include "fulgur/metric_store.h"
#include "fulgur/module.h"
#include "fulgur/plugin_host.h"
#include "fulgur/seed.h"
#include "fulgur/step_overrides.h"
#include "fulgur/trainer_options.h"

namespace fulgur {

class StepRunner;
class Strategy;

class Trainer {
 public:
  /// Validates `options` and loads the plugins they name.
  explicit Trainer(TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // --- plugins ------------------------------------------------------------------------------
  /// Adds a plugin object built in code (a user's own callback, or a plugin's typed options).
  Plugin& add_plugin(std::unique_ptr<Plugin> plugin);
  /// Loads a plugin by name from the plugin folders and adds it.
  Plugin& add_plugin(const PluginSpec& spec);
  /// Loads a plugin with its typed options: `add_plugin(plugins::EarlyStoppingOptions("val_loss").patience(5))`.
  template <typename Options, typename = decltype(std::declval<const Options&>().spec())>
  Plugin& add_plugin(const Options& options) {
    return add_plugin(options.spec());
  }
  /// The plugin called `name`, or nullptr.
  Plugin* find_plugin(const std::string& name) const;
  std::vector<std::string> plugin_names() const;
  /// The plugins that are loggers (fulgur/logger.h), in the order they were added.
  const std::vector<Logger*>& loggers() const { return loggers_; }
  /// Hands one row to every logger, on rank 0 only: how plugins (lr_monitor) log directly.
  void log_to_loggers(const std::map<std::string, double>& row, int64_t step);
  /// The distributed strategy plugin, or nullptr for a single process.
  Strategy* strategy() const { return strategy_; }
  int64_t global_rank() const;
  int64_t world_size() const;
  /// Rank 0 writes checkpoints and logs.
  bool is_global_zero() const { return global_rank() == 0; }

  // --- the four runs --------------------------------------------------------------------------
  // Data comes as loaders (one, or several for validation / test / predict), as a DataModule, or
  // from the Module's own *_dataloader() hooks. With `ckpt_path`, fit first restores everything
  // the checkpoint holds (weights, optimizers, schedulers, plugin and DataModule states, RNG, loop
  // position) and continues from there; validate / test / predict load its weights ("best" and
  // "last" name the model_checkpoint plugin's files).

  /// Trains `module` on `train_loader`, validating on `val_loaders` (none, one or several).
  template <typename M>
  void fit(M& module, DataLoader& train_loader, LoaderRefs val_loaders = {}, const std::string& ckpt_path = "") {
    run_fit(module, StepOverrides::of<M>(), RunData{&train_loader, val_loaders.pointers(), nullptr}, ckpt_path);
  }
  /// Trains with the DataModule's train and val loaders.
  template <typename M>
  void fit(M& module, DataModule& datamodule, const std::string& ckpt_path = "") {
    run_fit(module, StepOverrides::of<M>(), RunData{nullptr, {}, &datamodule}, ckpt_path);
  }
  /// Takes the training loader for the fit: `trainer.fit(model, std::make_unique<MyLoader>(...))`.
  template <typename M, typename L, typename = std::enable_if_t<std::is_base_of_v<DataLoader, L>>>
  void fit(M& module, std::unique_ptr<L> train_loader, LoaderRefs val_loaders = {}, const std::string& ckpt_path = "") {
    fit(module, given_loader(train_loader.get()), val_loaders, ckpt_path);
  }
  template <typename M, typename L, typename = std::enable_if_t<std::is_base_of_v<DataLoader, L>>>
  void fit(M& module, const std::shared_ptr<L>& train_loader, LoaderRefs val_loaders = {},
           const std::string& ckpt_path = "") {
    fit(module, given_loader(train_loader.get()), val_loaders, ckpt_path);
  }
  /// Trains with the Module's own train_dataloader() / val_dataloader().
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, M>>>
  void fit(M& module, const std::string& ckpt_path = "") {
    run_fit(module, StepOverrides::of<M>(), RunData{}, ckpt_path);
  }
  /// A temporary Module (`trainer.fit(Net(), loader)`) would be destroyed with its trained weights.
  template <typename M, typename... Rest, typename = std::enable_if_t<!std::is_lvalue_reference_v<M>>>
  void fit(M&& /*module*/, Rest&&... /*rest*/) {
    static_assert(sizeof(M) == 0,
                  "trainer.fit(Net(), ...): fit trains the Module you pass in place, and a temporary would be "
                  "destroyed with its trained weights; name it: Net model; trainer.fit(model, ...)");
  }
  /// Runs the validation loop once over each loader; returns the epoch metrics it logged (with
  /// several loaders named Lightning's way: "val_loss/dataloader_idx_1").
  template <typename M>
  std::map<std::string, double> validate(M& module, LoaderRefs loaders, const std::string& ckpt_path = "") {
    return run_evaluate(module, StepOverrides::of<M>(), Stage::Validate, RunData{nullptr, loaders.pointers(), nullptr},
                        ckpt_path);
  }
  template <typename M>
  std::map<std::string, double> validate(M& module, DataModule& datamodule, const std::string& ckpt_path = "") {
    return run_evaluate(module, StepOverrides::of<M>(), Stage::Validate, RunData{nullptr, {}, &datamodule}, ckpt_path);
  }
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, M>>>
  std::map<std::string, double> validate(M& module, const std::string& ckpt_path = "") {
    return run_evaluate(module, StepOverrides::of<M>(), Stage::Validate, RunData{}, ckpt_path);
  }
  /// Runs the test loop once over each loader; returns the epoch metrics it logged ({"test_acc": ...}).
  template <typename M>
  std::map<std::string, double> test(M& module, LoaderRefs loaders, const std::string& ckpt_path = "") {
    return run_evaluate(module, StepOverrides::of<M>(), Stage::Test, RunData{nullptr, loaders.pointers(), nullptr},
                        ckpt_path);
  }
  template <typename M>
  std::map<std::string, double> test(M& module, DataModule& datamodule, const std::string& ckpt_path = "") {
    return run_evaluate(module, StepOverrides::of<M>(), Stage::Test, RunData{nullptr, {}, &datamodule}, ckpt_path);
  }
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, M>>>
  std::map<std::string, double> test(M& module, const std::string& ckpt_path = "") {
    return run_evaluate(module, StepOverrides::of<M>(), Stage::Test, RunData{}, ckpt_path);
  }
  /// What predict_step (by default the Module's forward on the batch) returned for each batch.
  template <typename M>
  std::vector<torch::Tensor> predict(M& module, DataLoader& loader, const std::string& ckpt_path = "") {
    return run_predict(module, StepOverrides::of<M>(), RunData{nullptr, {&loader}, nullptr}, ckpt_path).at(0);
  }
  /// One list of predictions per loader.
  template <typename M>
  std::vector<std::vector<torch::Tensor>> predict(M& module,
                                                  std::initializer_list<std::reference_wrapper<DataLoader>> loaders,
                                                  const std::string& ckpt_path = "") {
    return run_predict(module, StepOverrides::of<M>(), RunData{nullptr, LoaderRefs(loaders).pointers(), nullptr},
                       ckpt_path);
  }
  /// One list of predictions per predict_dataloader() loader of the DataModule.
  template <typename M>
  std::vector<std::vector<torch::Tensor>> predict(M& module, DataModule& datamodule,
                                                  const std::string& ckpt_path = "") {
    return run_predict(module, StepOverrides::of<M>(), RunData{nullptr, {}, &datamodule}, ckpt_path);
  }
  /// One list of predictions per loader of the Module's predict_dataloader().
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<Module, M>>>
  std::vector<std::vector<torch::Tensor>> predict(M& module, const std::string& ckpt_path = "") {
    return run_predict(module, StepOverrides::of<M>(), RunData{}, ckpt_path);
  }

  // --- runs of the Module this Trainer ran last (Lightning's `trainer.test(datamodule=dm)`) ----
  // Without a ckpt_path they load that fit's best checkpoint, as Lightning does (and warn so);
  // pass "last", a file, or the Module itself (`test(model, dm)`) for its current weights.
  std::map<std::string, double> validate(DataModule& datamodule, const std::string& ckpt_path = "");
  std::map<std::string, double> validate(LoaderRefs loaders, const std::string& ckpt_path = "");
  std::map<std::string, double> test(DataModule& datamodule, const std::string& ckpt_path = "");
  std::map<std::string, double> test(LoaderRefs loaders, const std::string& ckpt_path = "");
  std::vector<std::vector<torch::Tensor>> predict(DataModule& datamodule, const std::string& ckpt_path = "");

  // --- checkpoints -------------------------------------------------------------------------------
  /// Writes a checkpoint of the current (or last) run's Module, optimizers, schedulers, plugin
  /// states, RNG and loop position to `path`, atomically. Emits on_save_checkpoint first.
  /// `weights_only` (Lightning's) leaves out the optimizers, schedulers and plugin states: the
  /// file loads a model (load_from_checkpoint, test) but cannot resume a fit.
  void save_checkpoint(const std::string& path, bool weights_only = false);
  /// The checkpoint save_checkpoint would write, as a dictionary.
  Checkpoint dump_checkpoint(bool weights_only = false);
  /// "best" and "last" as the checkpoint plugin (model_checkpoint) knows them; any other text is
  /// returned as it is. Throws fulgur::Error when no plugin has saved such a file.
  std::string resolve_checkpoint_path(const std::string& ckpt_path) const;

  /// The checkpoint the running (or last) fit resumed from, as it was given; empty when it
  /// started fresh (Lightning's trainer.ckpt_path). Checkpoint plugins never delete this file.
  const std::string& ckpt_path() const { return ckpt_path_; }
  /// Where checkpoints go when a plugin is given no folder: `<log_dir>/checkpoints` of the first
  /// logger that writes a versioned folder, so that runs sharing a default_root_dir keep apart
  /// (Lightning's rule), else `<default_root_dir>/checkpoints`.
  std::string default_checkpoint_dir() const;

  // --- state plugins read and steer ---------------------------------------------------------
  /// Set to true (by a plugin or the Module) to end fit at the next safe point: after the
  /// current batch, once min_epochs have run.
  bool should_stop = false;

  const TrainerOptions& options() const { return options_; }
  HookBus& hooks() { return bus_; }
  int64_t current_epoch() const { return fit_.current_epoch; }
  /// Optimizer steps taken so far.
  int64_t global_step() const { return fit_.global_step; }
  Stage stage() const { return stage_; }
  bool sanity_checking() const { return progress_.sanity_checking; }
  /// Batches the current training epoch runs (-1 while the loader's length is unknown).
  int64_t num_training_batches() const { return progress_.num_training_batches; }
  /// Batches the running validation / test / predict loop runs on its current loader (-1 while
  /// unknown).
  int64_t num_eval_batches() const { return progress_.num_eval_batches; }
  /// The loader the running evaluation or predict loop reads (0 in training).
  int64_t dataloader_idx() const { return progress_.dataloader_idx; }
  /// The DataModule of the running (or last) run, or nullptr (Lightning's trainer.datamodule).
  DataModule* datamodule() const { return datamodule_; }
  /// The running loop's current batch (valid inside the step and batch hooks).
  const Batch* current_batch() const { return current_batch_; }
  /// In on_train_epoch_end: true when the epoch ran all its batches, false when max_steps or
  /// should_stop ended it early (a resumed run finishes it). Epoch schedulers step only then.
  bool train_epoch_complete() const { return fit_.epoch_complete(); }
  /// Lightning's estimated_stepping_batches: the optimizer steps this fit will take, from
  /// max_epochs, max_steps, the (sharded, limited) training loader and accumulate_grad_batches;
  /// the total a OneCycleLR needs in configure_optimizers. Known during fit.
  int64_t estimated_stepping_batches() const;
  /// The epochs this fit runs (-1: no limit): max_epochs, or 1000 when neither it nor max_steps
  /// is set. A plugin may change it during fit (SWA adds an epoch to recompute BatchNorm
  /// statistics, as Lightning's callback does).
  int64_t max_epochs() const { return fit_.max_epochs; }
  /// Whether the evaluation loops run under c10::InferenceMode: the option, unless the strategy's
  /// collectives cannot take inference tensors (Gloo; then NoGradGuard, as Lightning decides).
  bool inference_mode() const;
  void set_max_epochs(int64_t epochs);
  /// Gradient accumulation in force; a plugin may change it at an epoch start.
  int64_t accumulate_grad_batches() const { return fit_.accumulate_grad_batches; }
  void set_accumulate_grad_batches(int64_t batches);
  torch::Device device() const { return device_; }
  /// The Module of the current run, or of the last one (nullptr before the first).
  Module* module() const { return module_; }
  const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers() const { return optimizers_; }
  /// The schedulers configure_optimizers returned (the lr_scheduler plugin steps them).
  const std::vector<LRSchedulerConfig>& lr_schedulers() const { return lr_schedulers_; }
  MetricStore& metrics() { return metrics_; }
  const MetricStore::Metrics& callback_metrics() const { return metrics_.callback_metrics(); }

 private:
  friend class Module;
  friend class DataModule;
  friend class ManualOptimizer;

  /// Where a run's loaders come from: given loaders, a DataModule, or else the Module's hooks.
  struct RunData {
    DataLoader* train = nullptr;
    std::vector<DataLoader*> eval;
    DataModule* datamodule = nullptr;
  };

  void run_fit(Module& module, StepOverrides overrides, RunData data, const std::string& ckpt_path);
  /// A loader handed over by pointer, checked: a null one is an error, not a crash.
  static DataLoader& given_loader(DataLoader* loader);
  /// The Module of the last run, for the runs that are not given one; `run` names the call.
  Module& last_module(const char* run) const;
  /// Lightning's choice of checkpoint for a run without a Module: "best" unless one is named.
  static std::string last_module_checkpoint(const char* run, const std::string& ckpt_path);
  /// validate / test of the last run's Module (Stage::Validate or Stage::Test).
  std::map<std::string, double> evaluate_last_module(Stage stage, RunData data, const std::string& ckpt_path);
  void restore_module(Checkpoint& checkpoint, const std::string& path);
  void restore_datamodule(Checkpoint& checkpoint, const std::string& path);
  // A Module or DataModule stays attached after its run (Lightning's model.trainer); the link
  // goes when either side goes, or when another run takes it over.
  void forget(const Module& module);
  void forget(const DataModule& datamodule);
  void attach(Module& module, DataModule* datamodule);
  void restore_training_state(Checkpoint& checkpoint, const std::string& path);
  std::map<std::string, double> run_evaluate(Module& module, StepOverrides overrides, Stage stage, RunData data,
                                             const std::string& ckpt_path);
  std::vector<std::vector<torch::Tensor>> run_predict(Module& module, StepOverrides overrides, RunData data,
                                                      const std::string& ckpt_path);
  void prepare_data(Module& module);
  void emit_setup(Stage stage);
  void emit_teardown(Stage stage);
  void resolve_loaders(Stage stage, RunData& data);
  /// Where the batch size for log() comes from: the current batch, counted on first use.
  int64_t batch_size_for_log(std::string& problem);
  void restore_for_evaluation(const std::string& ckpt_path);
  void restore_epoch_aggregates(const StateDict& fit_loop, const std::string& path);
  void remove_plugin(const std::string& name);

  class RunScope;
  struct ValidationSchedule;
  /// Loads the plugins the options name and imply (connectors/plugin_connector.cpp).
  void load_plugins();
  Plugin& add_loaded_plugin(LoadedPlugin loaded);
  void begin_run(Module& module, Stage stage, DataModule* datamodule);
  void end_run();
  void connect_module_hooks(Module& module);
  void connect_loggers();
  void shard(DataLoader& loader);
  void agree_on_should_stop();
  bool interrupt_due();
  // Resuming on its own and preemption (connectors/resume_connector.cpp).
  std::string resolve_fit_checkpoint(const std::string& ckpt_path);
  std::vector<std::string> resume_candidates() const;
  bool save_request_due();
  void save_for_preemption();
  void requeue_job() const;
  void send_to_loggers(const MetricStore::Metrics& metrics, int64_t step, bool with_epoch = true);
  void configure_optimizers(Module& module);

  // The fit loop (loops/fit_loop.cpp).
  std::optional<Checkpoint> restore_before_loaders(const std::string& ckpt_path);
  void restore_after_optimizers(Checkpoint& checkpoint);
  void run_fit_loops(RunData& data, const StepOverrides& overrides);
  void sanity_check(const std::vector<DataLoader*>& val_loaders);
  void fit_loop(RunData& data, bool validation_enabled);
  /// Shards a fit's loaders and, under overfit_batches, turns their shuffling off.
  void prepare_fit_loaders(RunData& data);
  /// reload_dataloaders_every_n_epochs: asks the hooks again for the loaders that came from them.
  void reload_loaders_if_due(RunData& data);
  /// fast_dev_run and overfit_batches set the batch limits they imply (Lightning's debugging flags).
  void apply_debugging_flags();
  // The training epoch loop (loops/training_epoch_loop.cpp).
  void training_epoch(DataLoader& train_loader, const std::vector<DataLoader*>& val_loaders, bool validation_enabled);
  ValidationSchedule validation_schedule(const std::vector<DataLoader*>& val_loaders, bool validation_enabled) const;
  int64_t first_training_batch(DataLoader& train_loader);
  /// Validates when due, then says whether the epoch stops after batch `batch_idx`.
  bool epoch_ends_after(int64_t batch_idx, bool is_last_batch, const std::vector<DataLoader*>& val_loaders,
                        const ValidationSchedule& validation);
  // One training batch (loops/optimization.cpp).
  void training_batch(Batch& batch, int64_t batch_idx, bool is_last_batch);
  /// The automatic step of one batch: training_step, zero_grad, backward, optimizer step.
  torch::Tensor eager_step(const Batch& batch, int64_t batch_idx, bool is_last_batch, bool zero_grad_in_place = false);
  void check_training_loss(const torch::Tensor& loss, int64_t batch_idx) const;
  // The evaluation and prediction loops (loops/evaluation_loop.cpp, loops/prediction_loop.cpp).
  /// Runs the loop over each loader, at most max_batches[i] batches of loader i (-1: all).
  void evaluation_loop(Stage stage, const std::vector<DataLoader*>& loaders, const std::vector<int64_t>& max_batches);
  std::vector<int64_t> eval_limits(Stage stage, const std::vector<DataLoader*>& loaders) const;
  torch::Tensor predict_batch(Module& module, const StepOverrides& overrides, const Batch& batch, int64_t batch_idx,
                              int64_t dataloader_idx);
  /// Reads each loader in turn (at most limits[i] batches of loader i), moving each batch to the
  /// device and calling body(batch, batch_idx, dataloader_idx): the evaluation and predict loops.
  template <typename Body>
  void read_loaders(const std::vector<DataLoader*>& loaders, const std::vector<int64_t>& limits, Body&& body);
  /// Batches a loop runs on `loader` under `limit` (-1: all; -1 returned when unknown).
  static int64_t batches_to_run(const DataLoader& loader, int64_t limit);
  bool should_validate(int64_t batch_idx, bool is_last_batch, int64_t val_check_batches) const;
  bool can_stop_early() const;

  Batch transfer(Batch batch, int64_t dataloader_idx);
  void set_current_batch(const Batch& batch);
  [[noreturn]] void rethrow_with_context(const char* step, int64_t batch_idx);

  // Called by Module for manual optimization.
  void backward(torch::Tensor loss);
  void optimizer_step(std::size_t optimizer_idx);
  void optimizer_zero_grad(std::size_t optimizer_idx, bool in_place = false);

  TrainerOptions options_;
  // Destroyed last: the bus may hold connection bookkeeping that plugin code allocated.
  std::vector<std::shared_ptr<void>> plugin_libraries_;
  HookBus bus_;  // declared before the plugins: their slots disconnect before the bus goes
  std::vector<LoadedPlugin> plugins_;
  std::vector<boost::signals2::scoped_connection> module_connections_;
  std::vector<boost::signals2::scoped_connection> logger_connections_;
  std::vector<Logger*> loggers_;
  Strategy* strategy_ = nullptr;
  StepRunner* step_runner_ = nullptr;  // a plugin that runs the automatic step itself (step_runner.h)

  Module* module_ = nullptr;            // stays set after a run, so save_checkpoint works after fit
  StepOverrides module_overrides_;      // module_'s steps, for the runs given no Module
  DataLoader* train_loader_ = nullptr;  // during fit, for estimated_stepping_batches
  DataModule* datamodule_ = nullptr;
  DataLoaders owned_loaders_;  // what *_dataloader() hooks returned for this run
  DataLoaders owned_train_loader_;
  bool train_from_hooks_ = false;  // this fit's loaders came from *_dataloader() hooks
  bool val_from_hooks_ = false;
  std::string ckpt_path_;
  bool running_ = false;
  torch::Device device_{torch::kCPU};
  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_;
  std::vector<LRSchedulerConfig> lr_schedulers_;
  MetricStore metrics_;
  // The metric objects registered in the running Module (their strategy is set for the run).
  std::vector<LoggableMetric*> module_metrics_;

  Stage stage_ = Stage::Fit;
  FitPosition fit_;        // where the fit stands (loop_state.h): reset by each fit, checkpointed
  LoopProgress progress_;  // what the running loop is doing: reset by each run
  const Batch* current_batch_ = nullptr;
  std::optional<int64_t> current_batch_size_;  // counted on first use by log()
  std::string batch_size_problem_;
};

}  // namespace fulgur
