// bench/ddp: training throughput of one process against two (ddp, Gloo on loopback), one
// LibTorch thread each, on an MLP big enough that the all-reduce has real work.
//
//   build/bench/bench_ddp                 # runs both and prints samples/s and the speed-up
//   build/bench/bench_ddp --run --strategy ddp --devices 2   # one configuration
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "fulgur/command_line.h"
#include "fulgur/trainer.h"

namespace {

namespace F = torch::nn::functional;

class Net : public fulgur::Module {
 public:
  explicit Net(int64_t hidden) {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(256, hidden), torch::nn::ReLU(),
                                                       torch::nn::Linear(hidden, hidden), torch::nn::ReLU(),
                                                       torch::nn::Linear(hidden, 10)));
  }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    return F::cross_entropy(net->forward(batch[0]), batch[1]);
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  }
  torch::nn::Sequential net{nullptr};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fulgur ddp throughput"};
  fulgur::TrainerOptions options;
  auto flags = fulgur::add_trainer_options(app, options);
  bool run_one = false;
  int64_t hidden = 1024, samples = 16384, batch_size = 64;
  double bucket_mb = 1.0;
  app.add_flag("--run", run_one, "Measure the configuration given by the Trainer options");
  app.add_option("--hidden", hidden);
  app.add_option("--samples", samples, "Samples per epoch, shared by the processes");
  app.add_option("--batch-size", batch_size, "Per process");
  app.add_option("--bucket-mb", bucket_mb,
                 "ddp's gradient bucket size in the comparison (the MLP has ~5 MB of gradients)");
  CLI11_PARSE(app, argc, argv);
  fulgur::finish_trainer_options(*flags, options);

  if (!run_one) {
    // Each configuration in a fresh process, so both start from the same state.
    char path[4096] = {};
    if (::readlink("/proc/self/exe", path, sizeof path - 1) <= 0) return 1;
    const std::string self = path;
    const std::string common = " --run --hidden " + std::to_string(hidden) + " --samples " + std::to_string(samples) +
                               " --batch-size " + std::to_string(batch_size) + " --max-epochs 2";
    // One process; two with every bucket reduced at the step; two with the buckets' all-reduce
    // started during backward (ddp's default).
    std::ostringstream bucket;
    bucket << bucket_mb;
    const std::string ddp = " --strategy ddp --devices 2 --plugin ddp:devices=2,bucket_mb=" + bucket.str();
    for (const std::string config : {std::string(), ddp + ",overlap=false", ddp + ",overlap=true"}) {
      const std::string command = self + common + config + " 2>&1";
      FILE* pipe = popen(command.c_str(), "r");
      char line[512];
      while (pipe && fgets(line, sizeof line, pipe)) {
        if (std::string(line).rfind("throughput", 0) == 0) std::fputs(line, stdout);
      }
      if (!pipe || pclose(pipe) != 0) {
        std::fprintf(stderr, "bench_ddp: the run '%s' failed\n", config.c_str());
        return 1;
      }
    }
    return 0;
  }

  torch::set_num_threads(1);
  torch::manual_seed(0);
  auto x = torch::randn({samples, 256});
  auto y = torch::randint(0, 10, {samples}, torch::kLong);
  fulgur::TensorDataLoaderOptions loader_options;
  loader_options.batch_size(batch_size);
  loader_options.shuffle(true);
  fulgur::TensorDataLoader loader(x, y, loader_options);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.enable_checkpointing(false);
  options.accelerator("cpu");
  Net model(hidden);
  fulgur::Trainer trainer(options);
  const auto start = std::chrono::steady_clock::now();
  trainer.fit(model, loader);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (trainer.is_global_zero()) {
    const double total = static_cast<double>(samples * options.max_epochs().value_or(1));
    std::string label = options.strategy();
    for (const auto& spec : options.plugins()) {
      if (spec.name == "ddp" && spec.options.count("overlap")) {
        label += spec.options.at("overlap") == "true" ? " (all-reduce overlapped with backward)"
                                                      : " (all-reduce at the step)";
      }
    }
    std::printf("throughput %-44s %lld process(es): %9.0f samples/s (%lld steps per process, %.2f s)\n", label.c_str(),
                static_cast<long long>(trainer.world_size()), total / seconds,
                static_cast<long long>(trainer.global_step()), seconds);
  }
  return 0;
}
