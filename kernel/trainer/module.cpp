#include "fulgur/module.h"

#include <algorithm>

#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/plugin.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"

namespace fulgur {
namespace {

[[noreturn]] void not_overridden(const char* step, const char* needed_by) {
  throw Error(std::string("this Module does not implement ") + step + ", which " + needed_by + " needs");
}

}  // namespace

torch::Tensor Module::validation_step(const Batch&, int64_t) { not_overridden("validation_step", "validation"); }
torch::Tensor Module::test_step(const Batch&, int64_t) { not_overridden("test_step", "Trainer::test"); }
torch::Tensor Module::predict_step(const Batch&, int64_t) { not_overridden("predict_step", "Trainer::predict"); }
torch::Tensor Module::validation_step(const Batch& batch, int64_t batch_idx, int64_t) {
  return validation_step(batch, batch_idx);
}
torch::Tensor Module::test_step(const Batch& batch, int64_t batch_idx, int64_t) { return test_step(batch, batch_idx); }
torch::Tensor Module::predict_step(const Batch& batch, int64_t batch_idx, int64_t) {
  return predict_step(batch, batch_idx);
}

Batch Module::transfer_batch_to_device(const Batch& batch, const torch::Device& device) {
  // Tensors already in place are passed through without a dispatcher call.
  auto move = [&device](const torch::Tensor& tensor) {
    return !tensor.defined() || tensor.device() == device ? tensor : tensor.to(device, /*non_blocking=*/true);
  };
  // Most batches of a CPU run are in place already: hand them on without rebuilding them.
  bool in_place = true;
  batch.for_each_tensor(
      [&](const torch::Tensor& tensor) { in_place = in_place && (!tensor.defined() || tensor.device() == device); });
  return in_place ? batch : batch.map_tensors(move);
}

std::vector<std::unique_ptr<Plugin>> Module::configure_callbacks() { return {}; }

const torch::Tensor& StepOutput::at(const std::string& key) const {
  const auto found = values.find(key);
  if (found != values.end()) return found->second;
  std::string keys;
  for (const auto& [name, value] : values) keys += (keys.empty() ? "" : ", ") + name;
  throw Error("step outputs have no '" + key + "'; they hold: " + (keys.empty() ? "only the loss" : keys));
}

torch::Tensor Module::outputs(std::map<std::string, torch::Tensor> values) {
  const auto loss = values.find("loss");
  if (loss == values.end() && automatic_optimization_) {
    throw Error(
        "outputs(): under automatic optimization the step's outputs need a 'loss' entry (the tensor to "
        "minimise)");
  }
  step_output_.loss = loss == values.end() ? torch::Tensor() : loss->second;
  step_output_.values = std::move(values);
  return step_output_.loss;
}

Trainer& Module::trainer() const {
  if (!trainer_) {
    throw Error(
        "this Module is not attached to a Trainer: it never ran, or its Trainer is gone (call it from within "
        "or after fit/validate/test/predict)");
  }
  return *trainer_;
}

void Module::log(const std::string& name, const torch::Tensor& value, const LogOptions& options) {
  Trainer& running = trainer();
  std::string problem;
  const int64_t batch_size = options.batch_size() ? *options.batch_size() : running.batch_size_for_log(problem);
  running.metrics_.log(name, value, options, batch_size, problem);
}

void Module::log(const std::string& name, double value, const LogOptions& options) {
  log(name, torch::tensor(value, torch::dtype(torch::kDouble)), options);
}

void Module::log_dict(const std::map<std::string, torch::Tensor>& values, const LogOptions& options) {
  for (const auto& [name, value] : values) log(name, value, options);
}

void Module::log(const std::string& name, LoggableMetric& metric, const LogOptions& options) {
  Trainer& running = trainer();
  const auto& registered = running.module_metrics_;
  if (std::find(registered.begin(), registered.end(), &metric) == registered.end()) {
    throw Error("log('" + name + "', " + metric.metric_name() + "): the metric is not registered in this Module; " +
                "register it (register_module(\"" + name + "\", metric)) so that it moves to the Module's device and " +
                "syncs across processes");
  }
  running.metrics_.log(name, metric, options);
}

void Module::log_dict(LoggableMetricGroup& metrics, const LogOptions& options) {
  for (const auto& [name, metric] : metrics.loggable_metrics()) log(name, *metric, options);
}

void Module::save_hyperparameters(const HParams& hparams) { hparams_.update(hparams); }

std::vector<ManualOptimizer> Module::optimizers() {
  const auto& all = trainer().optimizers();
  std::vector<ManualOptimizer> handles;
  handles.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) handles.emplace_back(*this, *all[i], i);
  return handles;
}

ManualOptimizer Module::optimizer(std::size_t index) {
  const auto& all = trainer().optimizers();
  if (index >= all.size()) {
    throw Error("optimizer(" + std::to_string(index) + "): configure_optimizers returned " +
                std::to_string(all.size()) + " optimizer(s)");
  }
  return ManualOptimizer(*this, *all[index], index);
}

void Module::manual_backward(torch::Tensor loss) { trainer().backward(std::move(loss)); }

int64_t Module::current_epoch() const { return trainer_ ? trainer_->current_epoch() : 0; }
int64_t Module::global_step() const { return trainer_ ? trainer_->global_step() : 0; }
int64_t Module::global_rank() const { return trainer_ ? trainer_->global_rank() : 0; }
int64_t Module::local_rank() const { return trainer_ && trainer_->strategy() ? trainer_->strategy()->local_rank() : 0; }
int64_t Module::world_size() const { return trainer_ ? trainer_->world_size() : 1; }

const std::vector<Logger*>& Module::loggers() const {
  static const std::vector<Logger*> none;
  return trainer_ ? trainer_->loggers() : none;
}

const std::vector<LRSchedulerConfig>& Module::lr_schedulers() const {
  static const std::vector<LRSchedulerConfig> none;
  return trainer_ ? trainer_->lr_schedulers() : none;
}

void Module::freeze() {
  for (auto& parameter : parameters()) parameter.set_requires_grad(false);
  eval();
}

void Module::unfreeze() {
  for (auto& parameter : parameters()) parameter.set_requires_grad(true);
  train();
}

void ManualOptimizer::step() { module_->trainer().optimizer_step(index_); }
void ManualOptimizer::zero_grad() { module_->trainer().optimizer_zero_grad(index_); }

Module::~Module() {
  if (trainer_) trainer_->forget(*this);
}

}  // namespace fulgur
