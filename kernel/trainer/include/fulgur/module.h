// fulgur::Module: Lightning's LightningModule for LibTorch.
//
// Derive from it, register layers as with torch::nn::Module, and write the science:
//
//   struct Net : fulgur::Module {
//     Net() { fc = register_module("fc", torch::nn::Linear(64, 10)); }
//     torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
//       auto [x, y] = batch.unpack<2>();
//       auto loss = torch::nn::functional::cross_entropy(fc(x), y);
//       log("train_loss", loss);
//       return loss;
//     }
//     fulgur::OptimizerConfig configure_optimizers() override {
//       return std::make_shared<torch::optim::Adam>(parameters());
//     }
//     torch::nn::Linear fc{nullptr};
//   };
//
// The Trainer runs the loops and calls these methods; everything else is a plugin.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "fulgur/data_loaders.h"
#include "fulgur/hook_contexts.h"
#include "fulgur/hparams.h"
#include "fulgur/log_options.h"
#include "fulgur/loggable_metric.h"
#include "fulgur/optimizer_config.h"

namespace fulgur {

class Trainer;
class Module;
class Logger;
class Plugin;

/// An optimizer as manual optimization sees it: step() and zero_grad() emit the same hooks
/// (on_before_optimizer_step, on_before_zero_grad) as automatic optimization does.
class ManualOptimizer {
 public:
  ManualOptimizer(Module& module, torch::optim::Optimizer& optimizer, std::size_t index)
      : module_(&module), optimizer_(&optimizer), index_(index) {}

  void step();
  void zero_grad();
  torch::optim::Optimizer& optimizer() const { return *optimizer_; }

 private:
  Module* module_;
  torch::optim::Optimizer* optimizer_;
  std::size_t index_;
};

/// What training_step returned, as on_train_batch_end receives it: the loss, and the other values
/// the step returned with Module::outputs (Lightning's `return {"loss": loss, "acc": acc}`).
struct StepOutput {
  torch::Tensor loss;
  std::map<std::string, torch::Tensor> values;
  /// values[key]; throws fulgur::Error naming the keys there are.
  const torch::Tensor& at(const std::string& key) const;
};

class Module : public torch::nn::Module, public DataHooks {
 public:
  using Hyperparameters = HParams;

  Module() = default;
  /// Lets go of the Trainer of its last run, which keeps a pointer to it until then.
  ~Module() override;

  // --- the steps -------------------------------------------------------------------------
  /// Returns the loss. Under automatic optimization the Trainer runs backward and the
  /// optimizer step on it; under manual optimization the return value is only reported.
  virtual torch::Tensor training_step(const Batch& batch, int64_t batch_idx) = 0;
  /// Not overriding validation_step disables the validation loop, as in Lightning. Override
  /// either form: the one with `dataloader_idx` tells which of several loaders the batch is from
  /// (its default calls the two-argument form).
  virtual torch::Tensor validation_step(const Batch& batch, int64_t batch_idx);
  virtual torch::Tensor validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual torch::Tensor test_step(const Batch& batch, int64_t batch_idx);
  virtual torch::Tensor test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  /// By default Lightning's: forward(x) on the batch (its first entry when it is a list).
  virtual torch::Tensor predict_step(const Batch& batch, int64_t batch_idx);
  virtual torch::Tensor predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual OptimizerConfig configure_optimizers() = 0;

  /// Runs on the batch as the loader made it, before it moves to the device (CPU-side work).
  virtual Batch on_before_batch_transfer(Batch batch, int64_t /*dataloader_idx*/) { return batch; }
  /// Moves every tensor of a batch to the module's device (non-blocking from pinned memory);
  /// override for batches that need more.
  virtual Batch transfer_batch_to_device(const Batch& batch, const torch::Device& device);
  /// Runs on the batch on the device, before any step sees it (GPU-side augmentation).
  virtual Batch on_after_batch_transfer(Batch batch, int64_t /*dataloader_idx*/) { return batch; }
  /// Plugins this Module brings to every fit, as Lightning's configure_callbacks (added at the
  /// start of fit, after the Trainer's own; a name the Trainer already has is replaced).
  virtual std::vector<std::unique_ptr<Plugin>> configure_callbacks();

  // --- the Module's own hooks (run after plugins' slots, as Lightning runs callbacks first) --
  virtual void setup(Stage /*stage*/) {}
  virtual void teardown(Stage /*stage*/) {}
  virtual void on_fit_start() {}
  virtual void on_fit_end() {}
  virtual void on_train_start() {}
  virtual void on_train_end() {}
  virtual void on_train_epoch_start() {}
  virtual void on_train_epoch_end() {}
  virtual void on_validation_epoch_start() {}
  virtual void on_validation_epoch_end() {}
  virtual void on_test_epoch_start() {}
  virtual void on_test_epoch_end() {}
  virtual void on_validation_start() {}
  virtual void on_validation_end() {}
  virtual void on_test_start() {}
  virtual void on_test_end() {}
  virtual void on_predict_start() {}
  virtual void on_predict_end() {}
  virtual void on_predict_epoch_start() {}
  virtual void on_predict_epoch_end() {}
  /// `outputs` is what the step returned (the loss for training_step).
  virtual void on_train_batch_start(const Batch& /*batch*/, int64_t /*batch_idx*/) {}
  virtual void on_train_batch_end(const StepOutput& /*outputs*/, const Batch& /*batch*/, int64_t /*batch_idx*/) {}
  virtual void on_validation_batch_start(const Batch& /*batch*/, int64_t /*batch_idx*/) {}
  virtual void on_validation_batch_end(const torch::Tensor& /*outputs*/, const Batch& /*batch*/,
                                       int64_t /*batch_idx*/) {}
  virtual void on_test_batch_start(const Batch& /*batch*/, int64_t /*batch_idx*/) {}
  virtual void on_test_batch_end(const torch::Tensor& /*outputs*/, const Batch& /*batch*/, int64_t /*batch_idx*/) {}
  virtual void on_predict_batch_start(const Batch& /*batch*/, int64_t /*batch_idx*/) {}
  virtual void on_predict_batch_end(const torch::Tensor& /*outputs*/, const Batch& /*batch*/, int64_t /*batch_idx*/) {}
  /// Before backward: `loss` may be read (and scaled or replaced, as a plugin's slot may).
  virtual void on_before_backward(torch::Tensor& /*loss*/) {}
  virtual void on_after_backward() {}
  virtual void on_before_optimizer_step(torch::optim::Optimizer& /*optimizer*/) {}
  virtual void on_before_zero_grad(torch::optim::Optimizer& /*optimizer*/) {}
  /// Add or read the Module's own extra state; weights are saved and restored by the Trainer.
  virtual void on_save_checkpoint(Checkpoint& /*checkpoint*/) {}
  virtual void on_load_checkpoint(Checkpoint& /*checkpoint*/) {}

  // --- logging ----------------------------------------------------------------------------
  void log(const std::string& name, const torch::Tensor& value, const LogOptions& options = {});
  void log(const std::string& name, double value, const LogOptions& options = {});
  void log_dict(const std::map<std::string, torch::Tensor>& values, const LogOptions& options = {});
  /// A metric object (fulgur/metrics.h), registered in this Module: on_step logs this batch's value
  /// (what calling the metric returned), on_epoch its compute() at the epoch's end, then a reset.
  void log(const std::string& name, LoggableMetric& metric, const LogOptions& options = {});
  template <typename M, std::enable_if_t<std::is_base_of_v<LoggableMetric, M>, int> = 0>
  void log(const std::string& name, const std::shared_ptr<M>& metric, const LogOptions& options = {}) {
    log(name, static_cast<LoggableMetric&>(*metric), options);
  }
  /// Every metric of a MetricCollection under its name.
  void log_dict(LoggableMetricGroup& metrics, const LogOptions& options = {});
  template <typename G, std::enable_if_t<std::is_base_of_v<LoggableMetricGroup, G>, int> = 0>
  void log_dict(const std::shared_ptr<G>& metrics, const LogOptions& options = {}) {
    log_dict(static_cast<LoggableMetricGroup&>(*metrics), options);
  }

  /// Lightning's dict return: `return outputs({{"loss", loss}, {"acc", acc}});` in training_step
  /// returns the loss and hands every value to on_train_batch_end. Under automatic optimization a
  /// "loss" entry is required.
  torch::Tensor outputs(std::map<std::string, torch::Tensor> values);

  // --- hyper-parameters ---------------------------------------------------------------------
  /// Records hyper-parameters, typed (fulgur/hparams.h); loggers and checkpoints store them, and
  /// load_from_checkpoint builds the Module again from them.
  ///   save_hyperparameters({{"lr", 1e-3}, {"hidden", 128}, {"layers", {64, 32}}});
  void save_hyperparameters(const HParams& hparams);
  const HParams& hparams() const { return hparams_; }
  /// Lightning's `self.hparams.lr = ...`: `hparams().set("lr", 0.02)` (the LR finder does it too).
  HParams& hparams() { return hparams_; }

  // --- optimization -----------------------------------------------------------------------
  /// Lightning's `automatic_optimization`. Set it to false in the constructor to call
  /// optimizers(), manual_backward() and ManualOptimizer::step() yourself (GANs, ...).
  bool automatic_optimization() const { return automatic_optimization_; }
  void set_automatic_optimization(bool enabled) { automatic_optimization_ = enabled; }

  /// The optimizers configure_optimizers returned, for manual optimization.
  std::vector<ManualOptimizer> optimizers();
  ManualOptimizer optimizer(std::size_t index);
  /// Runs backward with on_before_backward / on_after_backward around it.
  void manual_backward(torch::Tensor loss);

  /// The Trainer running this module, or the one that ran it last (Lightning's model.trainer
  /// stays set after fit); throws when it never ran or that Trainer is gone.
  Trainer& trainer() const;
  bool has_trainer() const { return trainer_ != nullptr; }
  torch::Device device() const { return device_; }

  // --- Lightning's properties: the Trainer's, during and after a run (0 / single-process values
  // for a Module that never ran) ---
  int64_t current_epoch() const;
  /// Optimizer steps taken so far.
  int64_t global_step() const;
  int64_t global_rank() const;
  int64_t local_rank() const;
  int64_t world_size() const;
  /// The Trainer's loggers (fulgur/logger.h).
  const std::vector<Logger*>& loggers() const;
  /// The schedulers configure_optimizers returned.
  const std::vector<LRSchedulerConfig>& lr_schedulers() const;

  // --- weights -------------------------------------------------------------------------------
  /// Lightning's freeze(): no parameter requires a gradient, and eval mode.
  void freeze();
  /// unfreeze(): every parameter requires a gradient again, and train mode.
  void unfreeze();

 private:
  friend class Trainer;

  Trainer* trainer_ = nullptr;
  torch::Device device_{torch::kCPU};
  bool automatic_optimization_ = true;
  HParams hparams_;
  StepOutput step_output_;  // the running training step's, for on_train_batch_end
};

}  // namespace fulgur
