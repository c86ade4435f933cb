// A run's start and end: the Module (and DataModule) attached to the Trainer, seeds, determinism
// and the device chosen, the Module's metric objects given the run's strategy, its
// configure_callbacks plugins added; prepare_data, setup and teardown; everything let go at the
// end (the Module keeps its link to the Trainer, as Lightning's model.trainer).
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <spdlog/spdlog.h>

#include "fulgur/compat.h"
#include "fulgur/error.h"
#include "fulgur/strategy.h"
#include "fulgur/trainer.h"
#include "connectors/log_forbidden.h"

namespace fulgur {
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

}  // namespace

void Trainer::begin_run(Module& module, Stage stage, DataModule* datamodule) {
  if (running_) throw Error("this Trainer is already running; runs cannot nest");
  if (module.trainer_ && module.trainer_->running_) throw Error("this Module is already attached to a running Trainer");
  if (datamodule && datamodule->trainer_ && datamodule->trainer_->running_) {
    throw Error("this DataModule is already attached to a running Trainer");
  }
  stage_ = stage;
  should_stop = false;
  progress_ = LoopProgress{};
  metrics_.clear();
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

void Trainer::forget(const Module& module) {
  if (module_ == &module) module_ = nullptr;
}

void Trainer::forget(const DataModule& datamodule) {
  if (datamodule_ == &datamodule) datamodule_ = nullptr;
}

DataModule::~DataModule() {
  if (trainer_) trainer_->forget(*this);
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

void Trainer::prepare_data(Module& module) {
  // Lightning's rule: local rank 0 of each machine (or global rank 0 only, per the
  // prepare_data_per_node flag) prepares; everyone waits for it before setup.
  const bool local_zero = !strategy_ || strategy_->local_rank() == 0;
  const bool global_zero = global_rank() == 0;
  const auto runs_here = [&](const DataHooks& hooks) { return hooks.prepare_data_per_node ? local_zero : global_zero; };
  const detail::LogForbidden scope(metrics_, "prepare_data");
  if (datamodule_ && runs_here(*datamodule_)) datamodule_->prepare_data();
  if (runs_here(module)) module.prepare_data();
  if (world_size() > 1) strategy_->barrier("after prepare_data");
}

void Trainer::emit_setup(Stage stage) {
  if (datamodule_) {
    const detail::LogForbidden scope(metrics_, "setup");
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

}  // namespace fulgur
