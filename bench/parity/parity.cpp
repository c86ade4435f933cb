// bench/parity, the C++ half: a hand-written LibTorch loop and fulgur (kernel + a log per step;
// and with its default plugins, a CSV logger and early stopping) train the same MLPs on the same
// in-memory random batches with Adam. bench/parity/run.sh runs this and parity.py (raw PyTorch
// and Lightning) in one go and prints the table. On a GPU two more rows train with SGD (momentum
// 0.9), whose step a CUDA graph can hold: a graph captured by hand and fulgur's cuda_graph plugin.
//
//   build/bench/bench_parity --model tiny --steps 400     # prints "tiny <variant> <us per step>"
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <torch/cuda.h>

#include "fulgur/compat.h"
#include "fulgur/trainer.h"

#ifdef FULGUR_WITH_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

struct Shape {
  std::vector<int64_t> widths;  // 784, hidden..., 10
  int64_t batch_size;
};

Shape shape_of(const std::string& model) {
  if (model == "tiny") return {{784, 128, 10}, 64};
  if (model == "medium") return {{784, 2048, 2048, 10}, 512};
  throw std::runtime_error("--model: tiny or medium, got '" + model + "'");
}

torch::nn::Sequential make_mlp(const Shape& shape) {
  torch::nn::Sequential net;
  for (std::size_t i = 0; i + 1 < shape.widths.size(); ++i) {
    net->push_back(torch::nn::Linear(shape.widths[i], shape.widths[i + 1]));
    if (i + 2 < shape.widths.size()) net->push_back(torch::nn::ReLU());
  }
  return net;
}

std::shared_ptr<torch::optim::Optimizer> make_sgd(const std::vector<torch::Tensor>& parameters) {
  return std::make_shared<torch::optim::SGD>(parameters, torch::optim::SGDOptions(1e-2).momentum(0.9));
}

class Net : public fulgur::Module {
 public:
  Net(const Shape& shape, bool sgd) : sgd_(sgd) { net = register_module("net", make_mlp(shape)); }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = F::cross_entropy(net->forward(batch[0]), batch[1]);
    log("train_loss", loss);
    return loss;
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    if (sgd_) return make_sgd(parameters());
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
  }
  torch::nn::Sequential net{nullptr};

 private:
  bool sgd_;
};

// `steps` batches made beforehand, served in order each epoch.
// On the device the run uses, so no variant pays for a host-to-device copy.
fulgur::TensorDataLoader make_data(const Shape& shape, int64_t steps, torch::Device device) {
  torch::manual_seed(0);
  fulgur::TensorDataLoaderOptions options;
  options.batch_size(shape.batch_size);
  return fulgur::TensorDataLoader(
      torch::randn({steps * shape.batch_size, shape.widths.front()}).to(device),
      torch::randint(0, shape.widths.back(), {steps * shape.batch_size}, torch::kLong).to(device), options);
}

// Timing a GPU means waiting for its queue: at the start and the end of the timed window only.
void wait_for(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

double hand_loop(const Shape& shape, fulgur::TensorDataLoader& loader, int64_t warmup, torch::Device device) {
  torch::manual_seed(1);
  auto net = make_mlp(shape);
  net->to(device);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  net->train();
  loader.start_epoch(0);
  int64_t step = 0;
  Clock::time_point start;
  while (auto batch = loader.next()) {
    if (step++ == warmup) {
      wait_for(device);
      start = Clock::now();
    }
    fulgur::compat::zero_grad(adam);
    auto loss = F::cross_entropy(net->forward((*batch)[0]), (*batch)[1]);
    loss.backward();
    adam.step();
  }
  wait_for(device);
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / static_cast<double>(step - warmup);
}

#ifdef FULGUR_WITH_CUDA_GRAPHS
// The step captured by hand as PyTorch's documentation does it: warm-up steps on a side stream,
// one capture of zero_grad (in place), forward, backward and SGD's step over static inputs, then
// each batch copied in and the graph replayed.
double hand_graph_loop(const Shape& shape, fulgur::TensorDataLoader& loader, int64_t warmup, torch::Device device) {
  torch::manual_seed(1);
  auto net = make_mlp(shape);
  net->to(device);
  auto sgd = make_sgd(net->parameters());
  net->train();
  loader.start_epoch(0);
  auto first = loader.next();
  torch::Tensor x = (*first)[0].clone(), y = (*first)[1].clone();
  const auto step = [&] {
    for (auto& parameter : net->parameters()) {
      if (parameter.grad().defined()) parameter.mutable_grad().zero_();
    }
    auto loss = F::cross_entropy(net->forward(x), y);
    loss.backward();
    sgd->step();
  };
  auto side = c10::cuda::getStreamFromPool(false, device.index());
  torch::cuda::synchronize();
  {
    c10::cuda::CUDAStreamGuard on_side(side);
    for (int i = 0; i < 3; ++i) step();
  }
  side.synchronize();
  at::cuda::CUDAGraph graph;
  {
    c10::cuda::CUDAStreamGuard on_side(side);
    graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    step();
    graph.capture_end();
  }
  side.synchronize();
  int64_t steps = 1;
  Clock::time_point start;
  while (auto batch = loader.next()) {
    if (steps++ == warmup) {
      wait_for(device);
      start = Clock::now();
    }
    x.copy_((*batch)[0], /*non_blocking=*/true);
    y.copy_((*batch)[1], /*non_blocking=*/true);
    graph.replay();
  }
  wait_for(device);
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / static_cast<double>(steps - warmup);
}
#endif

// fulgur's step time inside one fit: from batch `warmup`'s start to the end of the last batch,
// so set-up and the first steps (allocator warm-up) are left out, as in the hand loop.
class StepClock : public fulgur::Plugin {
 public:
  StepClock(int64_t warmup, torch::Device device) : warmup_(warmup), device_(device) {}
  std::string name() const override { return "step_clock"; }
  void attach(fulgur::HookBus& bus) override {
    connect(bus.on_train_batch_start, [this](fulgur::BatchStartHook& hook) {
      if (hook.batch_idx != warmup_) return;
      wait_for(device_);
      start_ = Clock::now();
    });
    connect(bus.on_train_batch_end, [this](fulgur::BatchEndHook& hook) { steps_ = hook.batch_idx + 1 - warmup_; });
    connect(
        bus.on_train_epoch_end,
        [this](fulgur::EpochHook&) {
          wait_for(device_);
          end_ = Clock::now();
        },
        fulgur::SlotGroup::Trace);
  }
  double us_per_step() const {
    return std::chrono::duration<double, std::micro>(end_ - start_).count() / static_cast<double>(steps_);
  }

 private:
  int64_t warmup_;
  torch::Device device_;
  int64_t steps_ = 1;
  Clock::time_point start_, end_;
};

double fulgur_loop(const Shape& shape, fulgur::TensorDataLoader& loader, int64_t warmup, bool with_plugins,
                   const std::string& root, torch::Device device, const std::string& precision,
                   bool cuda_graph = false) {
  torch::manual_seed(1);
  Net module(shape, /*sgd=*/cuda_graph);
  fulgur::TrainerOptions options;
  options.max_epochs(1);
  options.accelerator(device.is_cuda() ? "cuda" : "cpu");
  options.precision(precision);
  options.num_sanity_val_steps(0);
  options.default_root_dir(root);
  options.enable_progress_bar(with_plugins);
  options.enable_model_summary(with_plugins);
  options.enable_checkpointing(with_plugins);
  if (with_plugins) {
    options.plugins().push_back(fulgur::PluginSpec{"csv_logger", {}});
    options.plugins().push_back(fulgur::PluginSpec::parse("early_stopping:monitor=train_loss,patience=1000"));
  }
  // The plugin's warm-up and capture fall in the untimed first steps.
  if (cuda_graph) options.plugins().push_back(fulgur::PluginSpec::parse("cuda_graph:warmup_steps=3"));
  fulgur::Trainer trainer(options);
  auto& clock = static_cast<StepClock&>(trainer.add_plugin(std::make_unique<StepClock>(warmup, device)));
  trainer.fit(module, loader);
  return clock.us_per_step();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/parity: µs per step of a hand loop and of fulgur"};
  std::string model = "tiny";
  int64_t steps = 400, warmup = 20, threads = 0, rounds = 3;
  std::string accelerator = "cpu", precision = "32-true";
  app.add_option("--model", model, "tiny (784-128-10, batch 64) or medium (784-2048-2048-10, batch 512)");
  app.add_option("--steps", steps, "Steps per run, warm-up included");
  app.add_option("--warmup", warmup, "Untimed first steps");
  app.add_option("--threads", threads, "LibTorch threads (0: LibTorch's default)");
  app.add_option("--rounds", rounds, "Rounds of every variant; the median is printed")->check(CLI::PositiveNumber);
  app.add_option("--accelerator", accelerator, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--precision", precision,
                 "fulgur's precision; other than 32-true only fulgur with its default plugins runs");
  CLI11_PARSE(app, argc, argv);
  try {
    if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
    if (warmup >= steps) throw std::runtime_error("--warmup must be below --steps");
    const auto shape = shape_of(model);
    const torch::Device device(accelerator == "cuda" ? torch::kCUDA : torch::kCPU);
    auto loader = make_data(shape, steps, device);
    const auto root =
        (std::filesystem::temp_directory_path() / ("fulgur_bench_parity_" + std::to_string(::getpid()))).string();
    // Rounds alternate the variants, so each sees the machine in the same states; the median is
    // printed.
    std::vector<double> hand, kernel, plugins, hand_graph, fulgur_graph;
    const bool full_precision = precision == "32-true";
#ifdef FULGUR_WITH_CUDA_GRAPHS
    const bool graphs = full_precision && device.is_cuda();
#else
    const bool graphs = false;
#endif
    for (int64_t round = 0; round < rounds; ++round) {
      if (full_precision) hand.push_back(hand_loop(shape, loader, warmup, device));
      if (full_precision) kernel.push_back(fulgur_loop(shape, loader, warmup, false, root, device, precision));
      plugins.push_back(fulgur_loop(shape, loader, warmup, true, root, device, precision));
#ifdef FULGUR_WITH_CUDA_GRAPHS
      if (graphs) hand_graph.push_back(hand_graph_loop(shape, loader, warmup, device));
#endif
      if (graphs) fulgur_graph.push_back(fulgur_loop(shape, loader, warmup, true, root, device, precision, true));
    }
    auto median = [](std::vector<double> values) {
      std::sort(values.begin(), values.end());
      return values[values.size() / 2];
    };
    if (full_precision) {
      std::printf("%s hand_libtorch %.1f\n", model.c_str(), median(hand));
      std::printf("%s fulgur_kernel_log %.1f\n", model.c_str(), median(kernel));
      std::printf("%s fulgur_default_plugins %.1f\n", model.c_str(), median(plugins));
      if (graphs) {
        std::printf("%s hand_graph_sgd %.1f\n", model.c_str(), median(hand_graph));
        std::printf("%s fulgur_cuda_graph_sgd %.1f\n", model.c_str(), median(fulgur_graph));
      }
    } else {
      std::string suffix = precision;
      for (auto& c : suffix) c = c == '-' ? '_' : c;
      std::printf("%s fulgur_default_plugins_%s %.1f\n", model.c_str(), suffix.c_str(), median(plugins));
    }
    std::printf("libtorch %s\n", TORCH_VERSION);
    std::filesystem::remove_all(root);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
