// bench/precision: step time of each precision on one larger model, and a hand-written fp32
// LibTorch loop beside them. Meant for a CUDA machine (16-mixed needs one); on a CPU it runs
// 32-true and bf16-mixed.
//
//   build/bench/bench_precision --hidden 4096 --batch-size 1024 --steps 300
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "fulgur/compat.h"
#include "fulgur/trainer.h"

namespace {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

torch::nn::Sequential make_mlp(int64_t features, int64_t hidden, int64_t classes) {
  return torch::nn::Sequential(torch::nn::Linear(features, hidden), torch::nn::ReLU(),
                               torch::nn::Linear(hidden, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, hidden),
                               torch::nn::ReLU(), torch::nn::Linear(hidden, classes));
}

class Net : public fulgur::Module {
 public:
  Net(int64_t features, int64_t hidden, int64_t classes) {
    net = register_module("net", make_mlp(features, hidden, classes));
  }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    return F::cross_entropy(net->forward(batch[0]), batch[1]);
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  }
  torch::nn::Sequential net{nullptr};
};

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fulgur step time per precision"};
  int64_t hidden = 4096, batch_size = 1024, steps = 300, features = 1024;
  std::string accelerator = "auto";
  app.add_option("--hidden", hidden);
  app.add_option("--features", features);
  app.add_option("--batch-size", batch_size);
  app.add_option("--steps", steps);
  app.add_option("--accelerator", accelerator);
  CLI11_PARSE(app, argc, argv);
  const bool cuda = torch::cuda::is_available() && accelerator != "cpu";
  const torch::Device device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);

  // The data lives on the device already, so the loop measures compute, not transfers.
  torch::manual_seed(0);
  const int64_t samples = batch_size * 8;
  auto x = torch::randn({samples, features}, device);
  auto y = torch::randint(0, 10, {samples}, torch::TensorOptions().dtype(torch::kLong).device(device));
  fulgur::TensorDataLoaderOptions loader_options;
  loader_options.batch_size(batch_size);
  fulgur::TensorDataLoader loader(x, y, loader_options);

  std::fprintf(stderr, "LibTorch %s on %s: MLP %lld-%lld-%lld-%lld-10, batch %lld, %lld steps\n", TORCH_VERSION,
               device.str().c_str(), (long long)features, (long long)hidden, (long long)hidden, (long long)hidden,
               (long long)batch_size, (long long)steps);

  // The hand-written fp32 loop.
  double hand_us = 0;
  {
    auto net = make_mlp(features, hidden, 10);
    net->to(device);
    torch::optim::SGD optimizer(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    for (int pass = 0; pass < 2; ++pass) {  // the first pass warms up
      synchronize(device);
      const auto start = Clock::now();
      int64_t done = 0;
      for (int64_t epoch = 0; done < steps; ++epoch) {
        loader.start_epoch(epoch);
        while (auto batch = loader.next()) {
          if (done == steps) break;
          fulgur::compat::zero_grad(optimizer);
          F::cross_entropy(net->forward((*batch)[0]), (*batch)[1]).backward();
          optimizer.step();
          ++done;
        }
      }
      synchronize(device);
      hand_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / static_cast<double>(steps);
    }
  }
  std::fprintf(stderr, "%-22s %10.1f us/step\n", "hand-written fp32", hand_us);

  std::vector<std::string> precisions{"32-true", "bf16-mixed"};
  if (cuda) precisions.push_back("16-mixed");
  double fp32_us = 0;
  for (const auto& precision : precisions) {
    double us = 0;
    for (int pass = 0; pass < 2; ++pass) {
      Net module(features, hidden, 10);
      fulgur::TrainerOptions options;
      options.max_steps(steps);
      options.accelerator(cuda ? "cuda" : "cpu");
      options.precision(precision);
      options.enable_checkpointing(false);
      options.enable_progress_bar(false);
      options.enable_model_summary(false);
      fulgur::Trainer trainer(options);
      synchronize(device);
      const auto start = Clock::now();
      trainer.fit(module, loader);
      synchronize(device);
      us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / static_cast<double>(steps);
    }
    if (precision == "32-true") fp32_us = us;
    std::fprintf(stderr, "fulgur %-15s %10.1f us/step   %.2fx the hand fp32 loop's speed, %.2fx fulgur 32-true's\n",
                 precision.c_str(), us, hand_us / us, fp32_us / us);
  }
  return 0;
}
