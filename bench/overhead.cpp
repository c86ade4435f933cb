// bench/overhead: what fulgur's loop costs over a hand-written LibTorch loop.
//
// The same model, data, optimizer and batch order are trained by both, alternating round by
// round in one process so that both see the same machine state. Each configuration prints
// µs per training step for both and their ratio (median over rounds), and apart from them
// fulgur's set-up and teardown per fit (plugins loaded, log folders made; ms, not per step).
//
//   build/bench/bench_overhead                 # default: 7 rounds of 3 epochs
//   build/bench/bench_overhead --rounds 11 --threads 2
#include <algorithm>
#include <cstdio>
#include <optional>
#include <chrono>
#include <filesystem>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "fulgur/compat.h"
#include "fulgur/lr_schedulers.h"
#include "fulgur/trainer.h"

namespace {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

struct ModelShape {
  std::string name;
  int64_t features, hidden, classes, batch_size, samples;
};

torch::nn::Sequential make_mlp(const ModelShape& shape) {
  return torch::nn::Sequential(torch::nn::Linear(shape.features, shape.hidden), torch::nn::ReLU(),
                               torch::nn::Linear(shape.hidden, shape.hidden), torch::nn::ReLU(),
                               torch::nn::Linear(shape.hidden, shape.classes));
}

std::shared_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& module) {
  return std::make_shared<torch::optim::SGD>(module.parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
}

class BenchModule : public fulgur::Module {
 public:
  BenchModule(const ModelShape& shape, bool log_each_step) : log_each_step_(log_each_step) {
    net = register_module("net", make_mlp(shape));
  }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = F::cross_entropy(net->forward(batch[0]), batch[1]);
    if (log_each_step_) log("train_loss", loss);
    return loss;
  }
  fulgur::OptimizerConfig configure_optimizers() override { return make_optimizer(*this); }
  torch::nn::Sequential net{nullptr};

 private:
  bool log_each_step_;
};

// What the hand loop does besides forward, backward and step: nothing, or (the row with
// clipping, a scheduler and loggers) the same work done by hand — clip_grad_norm_, a cosine
// learning rate set every step, and every 50 steps a CSV row with the loss and the rate.
struct HandExtras {
  bool same_work = false;
  std::string csv_path;
};

// The loop a LibTorch user writes by hand.
double hand_loop_us_per_step(torch::nn::Sequential& net, torch::optim::Optimizer& optimizer,
                             fulgur::TensorDataLoader& loader, int64_t epochs, const HandExtras& extras = {}) {
  net->train();
  int64_t steps = 0;
  std::FILE* csv = extras.same_work ? std::fopen(extras.csv_path.c_str(), "w") : nullptr;
  if (csv) std::fprintf(csv, "step,train_loss,lr-SGD\n");
  std::optional<fulgur::CosineAnnealingLR> cosine;
  if (extras.same_work) cosine.emplace(optimizer, /*t_max=*/100000);
  const auto start = Clock::now();
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      fulgur::compat::zero_grad(optimizer);
      auto loss = F::cross_entropy(net->forward((*batch)[0]), (*batch)[1]);
      loss.backward();
      if (extras.same_work) torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
      optimizer.step();
      ++steps;
      if (cosine) {
        cosine->step();
        if (steps % 50 == 0) {
          std::fprintf(csv, "%lld,%.6f,%.8f\n", static_cast<long long>(steps), loss.item<double>(),
                       cosine->last_lrs()[0]);
          std::fflush(csv);
        }
      }
    }
  }
  const double us =
      std::chrono::duration<double, std::micro>(Clock::now() - start).count() / static_cast<double>(steps);
  if (csv) std::fclose(csv);
  return us;
}

// The training loop's time inside a fit: from on_train_start (before any other slot) to
// on_train_end (after every other), so that it holds every step and every epoch end (the
// loggers' saves) but not the fit's set-up and teardown (loading plugins, creating log folders),
// just as the hand loop's clock leaves out opening its CSV file.
class LoopClock : public fulgur::Plugin {
 public:
  std::string name() const override { return "loop_clock"; }
  void attach(fulgur::HookBus& bus) override {
    connect(
        bus.on_train_start, [this](fulgur::RunHook&) { start = Clock::now(); }, fulgur::SlotGroup::Trace);
    connect(
        bus.on_train_end, [this](fulgur::RunHook&) { end = Clock::now(); }, fulgur::SlotGroup::Last);
  }
  Clock::time_point start, end;
};

struct FulgurTimes {
  double us_per_step;  // the loop's
  double setup_ms;     // the rest of the fit: set-up and teardown
};

FulgurTimes fulgur_us_per_step(fulgur::Trainer& trainer, BenchModule& module, fulgur::TensorDataLoader& loader) {
  // Each fit logs into a fresh folder, as the hand loop rewrites its one CSV file: the loggers'
  // version search then reads one folder, not every earlier round's.
  std::filesystem::remove_all(trainer.options().default_root_dir() + "/lightning_logs");
  auto& clock = static_cast<LoopClock&>(trainer.add_plugin(std::make_unique<LoopClock>()));
  const auto start = Clock::now();
  trainer.fit(module, loader);
  const auto end = Clock::now();
  const double loop_us = std::chrono::duration<double, std::micro>(clock.end - clock.start).count();
  const double fit_us = std::chrono::duration<double, std::micro>(end - start).count();
  return {loop_us / static_cast<double>(trainer.global_step()), (fit_us - loop_us) / 1000.0};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Config {
  std::string name;
  bool hook_trace;
  bool checkpointing;
  bool log_each_step;
  bool profiler = false;
  bool optimization_plugins = false;
};

void run(const ModelShape& shape, const Config& config, int rounds, int64_t epochs, const std::string& scratch) {
  torch::manual_seed(0);
  auto x = torch::randn({shape.samples, shape.features});
  auto y = torch::randint(0, shape.classes, {shape.samples}, torch::kLong);
  fulgur::TensorDataLoaderOptions loader_options;
  loader_options.batch_size(shape.batch_size);
  loader_options.shuffle(true);
  fulgur::TensorDataLoader loader(x, y, loader_options);

  auto hand_net = make_mlp(shape);
  auto hand_optimizer = make_optimizer(*hand_net);
  BenchModule module(shape, config.log_each_step);

  fulgur::TrainerOptions options;
  options.max_epochs(epochs);
  options.accelerator("cpu");
  options.default_root_dir(scratch);
  // model_checkpoint (on by default) writes and fsyncs one checkpoint per epoch: disk time that
  // the "all_plugins" configuration counts as part of the loop's cost.
  options.enable_checkpointing(config.checkpointing);
  options.enable_progress_bar(false);  // the bar's own cost is in the "all_plugins" row
  options.enable_model_summary(config.checkpointing);
  if (config.checkpointing) {
    for (const char* plugin :
         {"on_exception_checkpoint", "progress_bar:tty=false,line_seconds=3600", "timer",
          "early_stopping:monitor=train_loss,patience=1000000", "nan_guard", "profiler:print=false"}) {
      options.plugins().push_back(fulgur::PluginSpec::parse(plugin));
    }
  }
  if (config.optimization_plugins) {
    // Issue 4's plugins and two loggers: clipping does real work the hand loop skips.
    options.gradient_clip_val(1.0);
    for (const char* plugin : {"lr_scheduler:schedule=cosine,interval=step,t_max=100000", "lr_monitor", "csv_logger",
                               "tensorboard_logger"}) {
      options.plugins().push_back(fulgur::PluginSpec::parse(plugin));
    }
  }
  if (config.profiler) options.plugins().push_back(fulgur::PluginSpec::parse("profiler:print=false"));
  if (config.hook_trace) {
    options.plugins().push_back(fulgur::PluginSpec::parse("hook_trace:path=" + scratch + "/trace.txt"));
  }

  std::vector<double> hand, framework, ratios, setup;
  const HandExtras extras{config.optimization_plugins, scratch + "/hand_metrics.csv"};
  hand_loop_us_per_step(hand_net, *hand_optimizer, loader, 1, extras);  // warm-up
  {
    fulgur::Trainer warm_up(options);
    fulgur_us_per_step(warm_up, module, loader);
  }
  for (int round = 0; round < rounds; ++round) {
    // Alternate which loop goes first so that neither always inherits the other's cache state.
    fulgur::Trainer trainer(options);
    const auto run_fulgur = [&] {
      const auto times = fulgur_us_per_step(trainer, module, loader);
      framework.push_back(times.us_per_step);
      setup.push_back(times.setup_ms);
    };
    if (round % 2 == 0) {
      hand.push_back(hand_loop_us_per_step(hand_net, *hand_optimizer, loader, epochs, extras));
      run_fulgur();
    } else {
      run_fulgur();
      hand.push_back(hand_loop_us_per_step(hand_net, *hand_optimizer, loader, epochs, extras));
    }
    ratios.push_back(framework.back() / hand.back());
  }
  std::fprintf(stderr, "%-8s %-22s %10.1f %10.1f %8.3f %8.3f %9.2f\n", shape.name.c_str(), config.name.c_str(),
               median(hand), median(framework), median(framework) / median(hand), median(ratios), median(setup));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fulgur loop overhead against a hand-written LibTorch loop"};
  int rounds = 7;
  int64_t epochs = 3;
  int threads = 1;
  std::vector<std::string> models{"small", "medium"};
  std::vector<std::string> only;
  app.add_option("--rounds", rounds, "Alternating rounds per configuration")->check(CLI::PositiveNumber);
  app.add_option("--epochs", epochs, "Epochs per round")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "LibTorch intra-op threads")->check(CLI::PositiveNumber);
  app.add_option("--models", models, "small (digits-sized MLP) and/or medium");
  app.add_option("--configs", only, "Only these configurations (e.g. kernel+log); all by default");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);

  const std::vector<ModelShape> shapes{{"small", 64, 128, 10, 32, 2048}, {"medium", 256, 512, 10, 128, 8192}};
  const std::vector<Config> configs{
      {"kernel", false, false, false},       {"kernel+log", false, false, true},
      {"hook_trace+log", true, false, true}, {"profiler+log", false, false, true, true},
      {"all_plugins+log", true, true, true}, {"clip+sched+loggers+log", false, false, true, false, true}};
  // Logs, traces and checkpoints of the runs: a folder of this process's own, gone when it ends.
  struct ScratchFolder {
    std::string path;
    ~ScratchFolder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } scratch_folder{(std::filesystem::temp_directory_path() / ("fulgur_bench_" + std::to_string(::getpid()))).string()};
  const std::string& scratch = scratch_folder.path;
  std::filesystem::create_directories(scratch);

  // Results go to stderr: the progress bar and model summary of the "all_plugins" rows use stdout.
  std::fprintf(stderr, "LibTorch %s, %d thread(s), %d rounds x %lld epochs; us per training step (median)\n",
               TORCH_VERSION, threads, rounds, static_cast<long long>(epochs));
  std::fprintf(stderr, "%-8s %-22s %10s %10s %8s %8s %9s\n", "model", "config", "hand_us", "fulgur_us", "ratio",
               "paired", "setup_ms");
  for (const auto& shape : shapes) {
    if (std::find(models.begin(), models.end(), shape.name) == models.end()) continue;
    for (const auto& config : configs) {
      if (only.empty() || std::find(only.begin(), only.end(), config.name) != only.end()) {
        run(shape, config, rounds, epochs, scratch);
      }
    }
  }
  return 0;
}
