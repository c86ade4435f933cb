// fulgur::Trainer's own pieces: construction, the state it reports, and the runs of the Module it
// ran last. The loops are in loops/, the connectors (plugins, the run, the Module's hooks, data,
// optimizers, checkpoints, loggers, resuming) in connectors/ — docs/ARCHITECTURE.md follows a
// batch through them.
#include "fulgur/trainer.h"

#include <filesystem>

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "fulgur/error.h"
#include "fulgur/strategy.h"

namespace fulgur {

Trainer::Trainer(TrainerOptions options) : options_(std::move(options)) {
  options_.validate();
  apply_debugging_flags();
  connect_loggers();
  load_plugins();
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

Trainer::~Trainer() {
  if (module_ && module_->trainer_ == this) module_->trainer_ = nullptr;
  if (datamodule_ && datamodule_->trainer_ == this) datamodule_->trainer_ = nullptr;
}

std::string Trainer::default_checkpoint_dir() const {
  for (const Logger* logger : loggers_) {
    if (!logger->log_dir().empty()) return (std::filesystem::path(logger->log_dir()) / "checkpoints").string();
  }
  return (std::filesystem::path(options_.default_root_dir()) / "checkpoints").string();
}

int64_t Trainer::global_rank() const { return strategy_ ? strategy_->global_rank() : 0; }

int64_t Trainer::world_size() const { return strategy_ ? strategy_->world_size() : 1; }

bool Trainer::inference_mode() const {
  return options_.inference_mode() && (!strategy_ || strategy_->collectives_allow_inference_mode());
}

void Trainer::set_max_epochs(int64_t epochs) {
  if (epochs < -1) throw Error("max_epochs must be -1 (no limit) or >= 0, got " + std::to_string(epochs));
  fit_.max_epochs = epochs;
}

void Trainer::set_accumulate_grad_batches(int64_t batches) {
  if (batches < 1) throw Error("accumulate_grad_batches must be >= 1, got " + std::to_string(batches));
  fit_.accumulate_grad_batches = batches;
}

int64_t Trainer::estimated_stepping_batches() const {
  if (fit_.max_epochs < 0) {
    if (options_.max_steps() < 0) {
      throw Error("estimated_stepping_batches: training is unlimited (max_epochs=-1 and max_steps=-1)");
    }
    return options_.max_steps();
  }
  if (!train_loader_) {
    throw Error(
        "estimated_stepping_batches is known during fit (e.g. in configure_optimizers), when the training "
        "loader is");
  }
  const int64_t batches = options_.limit_train_batches().resolve(train_loader_->size(), "limit_train_batches");
  if (batches < 0) {
    if (options_.max_steps() >= 0) return options_.max_steps();
    throw Error("estimated_stepping_batches: the training loader has no known length; set max_steps");
  }
  const int64_t per_epoch = (batches + fit_.accumulate_grad_batches - 1) / fit_.accumulate_grad_batches;
  const int64_t total = per_epoch * std::max<int64_t>(fit_.max_epochs, 1);
  return options_.max_steps() >= 0 ? std::min(total, options_.max_steps()) : total;
}

// --- runs of the Module this Trainer ran last ------------------------------------------------

DataLoader& Trainer::given_loader(DataLoader* loader) {
  if (!loader) throw Error("trainer.fit: the training loader given is null");
  return *loader;
}

Module& Trainer::last_module(const char* run) const {
  if (!module_) {
    throw Error(std::string("trainer.") + run +
                "(...) without a Module runs the Module this Trainer ran last, and "
                "there is none (it ran no Module, or that Module is gone); pass it: trainer." +
                run + "(model, ...)");
  }
  return *module_;
}

std::string Trainer::last_module_checkpoint(const char* run, const std::string& ckpt_path) {
  if (!ckpt_path.empty()) return ckpt_path;
  spdlog::warn(
      "`.{0}(ckpt_path=None)` was called without a model. The best model of the previous `fit` call will "
      "be used. You can pass `.{0}(ckpt_path='best')` to use the best model or `.{0}(ckpt_path='last')` to "
      "use the last model. If you pass a value, this warning will be silenced.",
      run);
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

void Trainer::rethrow_with_context(const char* step, int64_t batch_idx) {
  const std::string where = std::string(step) + " failed at epoch " + std::to_string(fit_.current_epoch) + ", batch " +
                            std::to_string(batch_idx) + ": ";
  try {
    throw;
  } catch (const Error& error) {
    throw Error(where + error.what());
  } catch (const c10::Error& error) {
    throw Error(where + error.what_without_backtrace());
  }
}

}  // namespace fulgur
