// The cuda_graph plugin (see include/fulgur/plugins/cuda_graph.h).
//
// The kernel hands each automatic step to this StepRunner (fulgur/step_runner.h). Warm-up steps
// and batches that cannot replay run the kernel's eager step; the others replay a graph captured
// from that same eager step. The eager step always zeroes gradients in place here, so every
// parameter keeps one gradient tensor for the whole fit and the graphs' addresses stay valid.
#include "fulgur/plugins/cuda_graph.h"

#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "fulgur/error.h"
#include "fulgur/plugin.h"
#include "fulgur/plugin_export.h"
#include "fulgur/step_runner.h"
#include "fulgur/trainer.h"
#include "static_batch.h"

#ifdef FULGUR_WITH_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace fulgur::plugins {
namespace {

using cuda_graph::StaticBatch;

[[noreturn]] void refuse(const std::string& why) { throw Error("plugin 'cuda_graph': " + why); }

// Empty when `optimizer` can be captured; otherwise why not.
std::string uncapturable(torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<torch::optim::SGD*>(&optimizer) || dynamic_cast<torch::optim::RMSprop*>(&optimizer)) return {};
  if (auto* adagrad = dynamic_cast<torch::optim::Adagrad*>(&optimizer)) {
    for (auto& group : adagrad->param_groups()) {
      if (static_cast<torch::optim::AdagradOptions&>(group.options()).lr_decay() != 0) {
        return "Adagrad with lr_decay computes its rate on the host from its step count, which a graph would freeze";
      }
    }
    return {};
  }
  if (dynamic_cast<torch::optim::Adam*>(&optimizer) || dynamic_cast<torch::optim::AdamW*>(&optimizer)) {
    return "LibTorch's Adam and AdamW compute their bias corrections on the host from the step count, which a "
           "graph would freeze at the captured step; use SGD, RMSprop or Adagrad with this plugin";
  }
  if (dynamic_cast<torch::optim::LBFGS*>(&optimizer)) {
    return "LBFGS re-evaluates the step in a closure and reads values on the host";
  }
  return "this optimizer is not one the plugin knows to read no host-side state in its step (SGD, RMSprop and "
         "Adagrad are)";
}

#ifdef FULGUR_WITH_CUDA_GRAPHS
// What a captured optimizer step freezes: the hyper-parameters it passed to its kernels as
// numbers, and the addresses of the tensors it read and wrote. Either changing means capturing
// again. Only optimizers whose update reads no other host-side state are accepted.
struct FrozenState {
  std::vector<double> hyper_parameters;
  std::vector<const void*> addresses;
  bool operator==(const FrozenState& other) const {
    return hyper_parameters == other.hyper_parameters && addresses == other.addresses;
  }
  bool operator!=(const FrozenState& other) const { return !(*this == other); }
};

// Fills `state` from the optimizer as it is now (reusing its vectors: this runs every step).
void read_frozen_state(torch::optim::Optimizer& optimizer, FrozenState& state) {
  auto& numbers = state.hyper_parameters;
  auto& addresses = state.addresses;
  numbers.clear();
  addresses.clear();
  for (auto& group : optimizer.param_groups()) {
    auto& options = group.options();
    if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&options)) {
      numbers.insert(numbers.end(),
                     {sgd->lr(), sgd->momentum(), sgd->dampening(), sgd->weight_decay(), sgd->nesterov() ? 1.0 : 0.0});
    } else if (auto* rms = dynamic_cast<torch::optim::RMSpropOptions*>(&options)) {
      numbers.insert(numbers.end(), {rms->lr(), rms->alpha(), rms->eps(), rms->weight_decay(), rms->momentum(),
                                     rms->centered() ? 1.0 : 0.0});
    } else if (auto* adagrad = dynamic_cast<torch::optim::AdagradOptions*>(&options)) {
      numbers.insert(numbers.end(), {adagrad->lr(), adagrad->lr_decay(), adagrad->weight_decay(), adagrad->eps()});
    }
    for (auto& parameter : group.params()) {
      addresses.push_back(parameter.data_ptr());
      addresses.push_back(parameter.grad().defined() ? parameter.grad().data_ptr() : nullptr);
    }
  }
  const auto add = [&](const torch::Tensor& tensor) {
    addresses.push_back(tensor.defined() ? tensor.data_ptr() : nullptr);
  };
  // Parameters are visited above in their groups' order; the state map's order is its own, but
  // it holds the same entries from one step to the next unless something replaced them.
  for (auto& [key, param_state] : optimizer.state()) {
    (void)key;
    if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(param_state.get())) {
      add(sgd->momentum_buffer());
    } else if (auto* rms = dynamic_cast<torch::optim::RMSpropParamState*>(param_state.get())) {
      add(rms->square_avg());
      add(rms->momentum_buffer());
      add(rms->grad_avg());
    } else if (auto* adagrad = dynamic_cast<torch::optim::AdagradParamState*>(param_state.get())) {
      add(adagrad->sum());
    }
  }
}
#endif

class CudaGraph : public Plugin, public StepRunner {
 public:
  explicit CudaGraph(CudaGraphOptions options) : options_(std::move(options)) {
    if (options_.warmup_steps() < 1) {
      throw PluginError("plugin 'cuda_graph': option 'warmup_steps' must be at least 1, got " +
                        std::to_string(options_.warmup_steps()));
    }
    if (options_.last_batch() != "eager" && options_.last_batch() != "drop") {
      throw PluginError("plugin 'cuda_graph': option 'last_batch' must be 'eager' or 'drop', got '" +
                        options_.last_batch() + "'");
    }
  }

  std::string name() const override { return "cuda_graph"; }

  void attach(HookBus& bus) override {
    connect(bus.on_train_start, [this](RunHook& hook) { check_run(hook.trainer); });
    connect(bus.on_train_end, [this](RunHook&) { report_and_release(); });
    connect(bus.on_exception, [this](ExceptionHook&) { release(); });
  }

  at::Tensor run_step(const TrainingStep& step) override {
#ifdef FULGUR_WITH_CUDA_GRAPHS
    return run_on_gpu(step);
#else
    // check_run refused this build at the start of the fit; nothing reaches here.
    return step.eager();
#endif
  }

 private:
  void check_run(Trainer& trainer) {
    release();
    warmup_done_ = 0;
    optimizer_steps_seen_ = 0;
    replays_ = captures_ = eager_ = dropped_ = 0;
    if (!trainer.device().is_cuda()) {
      refuse("the run is on " + trainer.device().str() +
             "; CUDA graphs capture work on a CUDA device "
             "(accelerator='cuda'), so the plugin has nothing to capture here");
    }
#ifndef FULGUR_WITH_CUDA_GRAPHS
    refuse("this build of fulgur was compiled without CUDA graph support (against a LibTorch without CUDA)");
#endif
    Module& module = *trainer.module();
    if (!module.automatic_optimization()) {
      refuse("manual optimization runs the step in training_step itself; the plugin captures the automatic step");
    }
    if (trainer.optimizers().size() != 1) {
      refuse("the Module configures " + std::to_string(trainer.optimizers().size()) +
             " optimizers; the automatic step, and so the capture, uses exactly one");
    }
    if (auto why = uncapturable(*trainer.optimizers().front()); !why.empty()) refuse(why);
    if (trainer.options().canonical_precision() == "16-mixed") {
      refuse(
          "precision '16-mixed' decides on the host, each step, whether the scaler skips the optimizer step; "
          "use 'bf16-mixed' (no scaler) with CUDA graphs");
    }
    if (trainer.options().detect_anomaly()) refuse("detect_anomaly reads every loss on the host");
    if (trainer.world_size() > 1) {
      refuse(
          "ddp's gradient reduction is bookkept on the host between backward and the step; run one process "
          "with CUDA graphs");
    }
    if (options_.last_batch() == "drop" && trainer.accumulate_grad_batches() > 1) {
      refuse("last_batch='drop' with accumulate_grad_batches=" + std::to_string(trainer.accumulate_grad_batches()) +
             " would leave the window's earlier micro-batches without their step; use last_batch='eager'");
    }
  }

  void report_and_release() {
    if (replays_ + captures_ > 0) {
      spdlog::info("cuda_graph: {} steps replayed from {} captures, {} eager (warm-up and odd batches), {} dropped",
                   replays_, captures_, eager_, dropped_);
    }
    release();
  }

#ifdef FULGUR_WITH_CUDA_GRAPHS
  // One captured step. The kernel's step differs by whether it zeroes the gradients and steps
  // the optimizer (accumulation windows), so there is one graph for each such kind.
  struct Captured {
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    FrozenState frozen;
    at::Tensor loss;                               // written by each replay
    std::vector<MetricStore::LoggedValue> logged;  // training_step's log() calls, values written by each replay
  };

  at::Tensor run_on_gpu(const TrainingStep& step) {
    Trainer& trainer = step.trainer;
    if (warmup_done_ < options_.warmup_steps() || optimizer_steps_seen_ == 0) return warm_up(step);

    if (!static_batch_ && step.is_last_batch) {
      // The epoch's last batch is the one likely to be smaller: the shapes to capture come from another.
      ++eager_;
      return step.eager({nullptr, /*zero_grad_in_place=*/true});
    }
    if (!static_batch_) {
      if (auto off = cuda_graph::first_tensor_off(step.batch, c10::DeviceType::CUDA); !off.empty()) {
        refuse(off +
               ": a graph captures device work only, so the step's work on a host tensor would run once, "
               "at capture, and its result stay frozen; keep every tensor of the batch on the GPU");
      }
      static_batch_.emplace(step.batch);
    } else if (auto mismatch = static_batch_->mismatch(step.batch); !mismatch.empty()) {
      if (!step.is_last_batch) {
        refuse(mismatch + " at batch " + std::to_string(step.batch_idx) +
               ", which is not the epoch's last; a graph "
               "replays fixed shapes and values, so give every batch the same (drop_last, or padding)");
      }
      if (options_.last_batch() == "drop") {
        ++dropped_;
        return {};
      }
      ++eager_;
      return step.eager({nullptr, /*zero_grad_in_place=*/true});
    }

    torch::optim::Optimizer& optimizer = *trainer.optimizers().front();
    const int kind = (step.zeroes_gradients ? 1 : 0) + (step.steps_optimizer ? 2 : 0);
    Captured& captured = graphs_[kind];
    read_frozen_state(optimizer, frozen_now_);
    if (!captured.graph || captured.frozen != frozen_now_) {
      if (captured.graph) {
        spdlog::info(
            "cuda_graph: the optimizer's learning rate, hyper-parameters or tensors changed before batch {}; "
            "capturing the step again",
            step.batch_idx);
        // A per-step scheduler changes the rate every step: each capture then costs more than the
        // eager step it replaces.
        if (++recaptures_in_a_row_ == 3) {
          spdlog::warn(
              "cuda_graph: the learning rate changed at each of the last 3 steps (a per-step scheduler?), "
              "and every change means a new capture, slower than the eager step; schedule per epoch, or "
              "leave this plugin out");
        }
      }
      capture(step, captured);
      // Capturing records the work without doing it (and the step created no new tensors).
      read_frozen_state(optimizer, captured.frozen);
    } else {
      recaptures_in_a_row_ = 0;
    }
    static_batch_->copy_from(step.batch);
    captured.graph->replay();
    ++replays_;
    MetricStore& metrics = trainer.metrics();
    for (const auto& logged : captured.logged) metrics.log_recorded(logged);
    if (step.steps_optimizer) step.count_optimizer_steps(1);
    return captured.loss.clone();
  }

  at::Tensor warm_up(const TrainingStep& step) {
    // On the stream the capture will use: cuBLAS and cuDNN set up that stream's workspaces here.
    const c10::cuda::CUDAStream side = capture_stream(step.trainer);
    c10::cuda::getCurrentCUDAStream().synchronize();
    at::Tensor loss;
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      loss = step.eager({nullptr, /*zero_grad_in_place=*/true});
    }
    side.synchronize();
    ++warmup_done_;
    ++eager_;
    if (step.steps_optimizer) ++optimizer_steps_seen_;
    return loss;
  }

  void capture(const TrainingStep& step, Captured& captured) {
    captured.graph.reset();
    captured.logged.clear();
    Trainer& trainer = step.trainer;
    MetricStore& metrics = trainer.metrics();
    const c10::cuda::CUDAStream side = capture_stream(trainer);
    c10::cuda::getCurrentCUDAStream().synchronize();  // the static batch and the last step are done
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      // The log() calls of the captured step are recorded, and replayed on the host after each replay.
      struct StopRecording {
        MetricStore& metrics;
        ~StopRecording() { metrics.record_into(nullptr); }
      } stop{metrics};
      metrics.record_into(&captured.logged, "cuda_graph");
      // Thread-local: a loader's worker thread pinning memory does not break the capture.
      graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      try {
        captured.loss = step.eager({&static_batch_->inputs(), /*zero_grad_in_place=*/true}).detach();
        graph->capture_end();
      } catch (const std::exception& error) {
        try {
          graph->capture_end();  // leaves the stream usable; the broken capture is discarded
        } catch (const std::exception&) {
        }
        refuse("the training step could not be captured at batch " + std::to_string(step.batch_idx) +
               ". A captured step may not wait for the GPU on the host (.item(), printing a tensor, a branch on a "
               "tensor's value, a hook that reads values each step) nor change shapes inside. The error was: " +
               error.what());
      }
    }
    side.synchronize();
    captured.graph = std::move(graph);
    ++captures_;
    spdlog::info("cuda_graph: captured the step at batch {} ({}{})", step.batch_idx,
                 step.zeroes_gradients ? "zero_grad, " : "", step.steps_optimizer ? "optimizer step" : "no step");
  }

  c10::cuda::CUDAStream capture_stream(Trainer& trainer) {
    if (!side_stream_) side_stream_ = c10::cuda::getStreamFromPool(false, trainer.device().index());
    return *side_stream_;
  }

  std::map<int, Captured> graphs_;
  FrozenState frozen_now_;  // read before each replay, compared with the capture's
  int64_t recaptures_in_a_row_ = 0;
  std::optional<c10::cuda::CUDAStream> side_stream_;
#endif

  void release() {
#ifdef FULGUR_WITH_CUDA_GRAPHS
    graphs_.clear();
#endif
    static_batch_.reset();
  }

  CudaGraphOptions options_;
  std::optional<StaticBatch> static_batch_;
  int64_t warmup_done_ = 0;
  int64_t optimizer_steps_seen_ = 0;
  int64_t replays_ = 0, captures_ = 0, eager_ = 0, dropped_ = 0;
};

std::unique_ptr<Plugin> make_cuda_graph(const PluginOptions& options) {
  return std::make_unique<CudaGraph>(CudaGraphOptions::parse(options));
}

}  // namespace
}  // namespace fulgur::plugins

FULGUR_EXPORT_PLUGIN(fulgur::plugins::make_cuda_graph)
