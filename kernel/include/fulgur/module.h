// fulgur::Module: Lightning's LightningModule for LibTorch.
//
// Derive from it, register layers as with torch::nn::Module, and write the science:
//
//   struct Net : fulgur::Module {
//     Net() { fc = register_module("fc", torch::nn::Linear(64, 10)); }
//     torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
//       auto loss = torch::cross_entropy_loss(fc(batch.data), batch.target);
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
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "fulgur/hook_contexts.h"
#include "fulgur/log_options.h"
#include "fulgur/optimizer_config.h"

namespace fulgur {

class Trainer;
class Module;

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

class Module : public torch::nn::Module {
 public:
  using Hyperparameters = std::map<std::string, std::string>;

  Module() = default;

  // --- the steps -------------------------------------------------------------------------
  /// Returns the loss. Under automatic optimization the Trainer runs backward and the
  /// optimizer step on it; under manual optimization the return value is only reported.
  virtual torch::Tensor training_step(const Batch& batch, int64_t batch_idx) = 0;
  /// Not overriding validation_step disables the validation loop, as in Lightning.
  virtual torch::Tensor validation_step(const Batch& batch, int64_t batch_idx);
  virtual torch::Tensor test_step(const Batch& batch, int64_t batch_idx);
  virtual torch::Tensor predict_step(const Batch& batch, int64_t batch_idx);
  virtual OptimizerConfig configure_optimizers() = 0;

  /// Moves a batch to the module's device; override for batches that need more.
  virtual Batch transfer_batch_to_device(const Batch& batch, const torch::Device& device);

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
  virtual void on_after_backward() {}
  virtual void on_before_optimizer_step(torch::optim::Optimizer& /*optimizer*/) {}
  /// Add or read the Module's own extra state; weights are saved and restored by the Trainer.
  virtual void on_save_checkpoint(Checkpoint& /*checkpoint*/) {}
  virtual void on_load_checkpoint(Checkpoint& /*checkpoint*/) {}

  // --- logging ----------------------------------------------------------------------------
  void log(const std::string& name, const torch::Tensor& value, const LogOptions& options = {});
  void log(const std::string& name, double value, const LogOptions& options = {});
  void log_dict(const std::map<std::string, torch::Tensor>& values, const LogOptions& options = {});

  // --- hyper-parameters ---------------------------------------------------------------------
  /// Records hyper-parameters; loggers and checkpoints store them.
  void save_hyperparameters(const Hyperparameters& hparams);
  const Hyperparameters& hparams() const { return hparams_; }

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

  /// The Trainer running this module; throws when none is.
  Trainer& trainer() const;
  bool has_trainer() const { return trainer_ != nullptr; }
  torch::Device device() const { return device_; }

 private:
  friend class Trainer;

  Trainer* trainer_ = nullptr;
  torch::Device device_{torch::kCPU};
  bool automatic_optimization_ = true;
  Hyperparameters hparams_;
};

}  // namespace fulgur
