// A small training program for the ddp tests: Trainer options from the command line, a fixed
// dataset, and the final weights written to --out by rank 0. --die-rank/--die-at-step make one
// rank vanish mid-training, as a crashed machine would.
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "fulgur/command_line.h"
#include "fulgur/data.h"
#include "fulgur/plugin.h"
#include "fulgur/strategy.h"
#include "testing.h"

namespace {

struct DieAt : fulgur::Plugin {
  int64_t rank = -1;
  int64_t step = -1;
  std::string name() const override { return "die_at"; }
  void attach(fulgur::HookBus& bus) override {
    connect(bus.on_train_batch_start, [this](fulgur::BatchStartHook& hook) {
      if (hook.trainer.global_rank() == rank && hook.trainer.global_step() == step) ::_exit(3);
    });
  }
};

// Asks for a stop on one rank only: the ranks must still stop together.
struct StopAt : fulgur::Plugin {
  int64_t rank = -1;
  int64_t epoch = -1;
  std::string name() const override { return "stop_at"; }
  void attach(fulgur::HookBus& bus) override {
    connect(bus.on_train_epoch_end, [this](fulgur::EpochHook& hook) {
      if (hook.trainer.global_rank() == rank && hook.epoch == epoch) hook.trainer.should_stop = true;
    });
  }
};

// Sends a signal (SIGTERM, or SIGUSR1 with --signal usr1) to its own process on one rank at one
// step, as `kill PID` or a scheduler would.
struct SignalAt : fulgur::Plugin {
  int64_t rank = -1;
  int64_t step = -1;
  int signal = SIGTERM;
  std::string name() const override { return "signal_at"; }
  void attach(fulgur::HookBus& bus) override {
    connect(bus.on_train_batch_start, [this](fulgur::BatchStartHook& hook) {
      if (hook.trainer.global_rank() == rank && hook.trainer.global_step() == step) ::raise(signal);
    });
  }
};

// Says on every rank when a checkpoint is saved (only rank 0 writes the file).
struct SaveReporter : fulgur::Plugin {
  std::string name() const override { return "save_reporter"; }
  void attach(fulgur::HookBus& bus) override {
    connect(bus.on_save_checkpoint, [](fulgur::CheckpointHook& hook) {
      std::printf("rank %lld: checkpoint at step %lld\n", static_cast<long long>(hook.trainer.global_rank()),
                  static_cast<long long>(hook.trainer.global_step()));
      std::fflush(stdout);
    });
  }
};

// Logs its rank with sync_dist: every rank must read the mean over the ranks. rank_trend falls
// on rank 0 and rises on the others (not synced): a monitor sees a new best on one rank only.
struct RankLogger : fulgur::testing::TinyClassifier {
  using TinyClassifier::TinyClassifier;
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t batch_idx) override {
    log("rank_mean", static_cast<double>(trainer().global_rank()),
        fulgur::LogOptions().on_step(false).on_epoch(true).sync_dist(true));
    const double epoch = static_cast<double>(trainer().current_epoch());
    log("rank_trend", trainer().global_rank() == 0 ? -epoch : epoch,
        fulgur::LogOptions().on_step(false).on_epoch(true));
    return TinyClassifier::training_step(batch, batch_idx);
  }
};

// Feeds the run from a DataModule whose prepare_data appends a line to a file: under DDP one
// process of the machine prepares and the others wait.
struct PreparingData : fulgur::DataModule {
  PreparingData(std::string log, fulgur::DataLoader& loader) : log_(std::move(log)), loader_(loader) {}
  void prepare_data() override {
    std::FILE* file = std::fopen(log_.c_str(), "a");
    std::fprintf(file, "prepared by rank %s\n", std::getenv("RANK") ? std::getenv("RANK") : "?");
    std::fclose(file);
  }
  void setup(fulgur::Stage) override {
    // Every process sets up after the preparation finished.
    std::FILE* file = std::fopen(log_.c_str(), "r");
    prepared_before_setup = file != nullptr;
    if (file) std::fclose(file);
  }
  struct Borrowed : fulgur::DataLoader {
    explicit Borrowed(fulgur::DataLoader& inner) : inner_(inner) {}
    void start_epoch(int64_t epoch) override { inner_.start_epoch(epoch); }
    std::optional<fulgur::Batch> next() override { return inner_.next(); }
    std::optional<int64_t> size() const override { return inner_.size(); }
    void shard(int64_t rank, int64_t world_size) override { inner_.shard(rank, world_size); }
    fulgur::DataLoader& inner_;
  };
  fulgur::DataLoaders train_dataloader() override { return std::make_unique<Borrowed>(loader_); }
  bool prepared_before_setup = false;
  std::string log_;
  fulgur::DataLoader& loader_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ddp test worker"};
  fulgur::TrainerOptions options;
  auto flags = fulgur::add_trainer_options(app, options);
  int64_t batch_size = 4, die_rank = -1, die_at_step = -1, stop_rank = -1, stop_epoch = -1;
  int64_t signal_rank = -1, signal_at_step = -1, wide_rank = -1;
  std::string out, ckpt_path, save;
  app.add_option("--batch-size", batch_size);
  app.add_option("--out", out);
  app.add_option("--ckpt-path", ckpt_path);
  app.add_option("--save", save);
  app.add_option("--die-rank", die_rank);
  app.add_option("--die-at-step", die_at_step);
  app.add_option("--stop-rank", stop_rank);
  app.add_option("--stop-epoch", stop_epoch);
  app.add_option("--signal-rank", signal_rank);
  app.add_option("--signal-at-step", signal_at_step);
  std::string signal_name = "term";
  app.add_option("--signal", signal_name, "term or usr1")->check(CLI::IsMember({"term", "usr1"}));
  app.add_option("--wide-rank", wide_rank, "This rank builds a model of another shape");
  bool dict_batches = false;
  std::string prepare_log;
  app.add_option("--prepare-log", prepare_log, "Train from a DataModule whose prepare_data appends to this file");
  app.add_flag("--dict-batches", dict_batches,
               "The same samples as dicts with an id and a file name, through a DatasetLoader with a worker");
  CLI11_PARSE(app, argc, argv);
  try {
    fulgur::finish_trainer_options(*flags, options);
    options.enable_progress_bar(false);
    options.enable_model_summary(false);
    options.enable_checkpointing(false);
    options.accelerator("cpu");
    torch::set_num_threads(1);
    torch::manual_seed(11);  // the same initial weights in every run (rank 0's are broadcast)
    const char* rank = std::getenv("RANK");
    const bool wide = wide_rank >= 0 && rank && std::to_string(wide_rank) == rank;
    RankLogger model(wide ? 5 : 4, 0.1);
    auto data = fulgur::testing::make_blobs(64, 4, 3);
    auto tensor_loader = fulgur::testing::make_loader(data, batch_size, /*shuffle=*/true, /*seed=*/5);
    // Dicts in x, y order: TinyClassifier's batch[0] and batch[1] read them by position.
    auto samples = std::make_shared<fulgur::LambdaDataset>(64, [data](int64_t i) {
      return fulgur::Batch::dict({{"x", data.x[i]}, {"y", data.y[i]}, {"id", i}, {"file", std::to_string(i) + ".pt"}});
    });
    fulgur::DatasetLoader dict_loader(
        samples, fulgur::DatasetLoaderOptions().batch_size(batch_size).shuffle(true).seed(5).num_workers(1));
    fulgur::DataLoader& loader = dict_batches ? static_cast<fulgur::DataLoader&>(dict_loader) : tensor_loader;
    fulgur::Trainer trainer(options);
    auto die = std::make_unique<DieAt>();
    die->rank = die_rank;
    die->step = die_at_step;
    trainer.add_plugin(std::move(die));
    auto stop = std::make_unique<StopAt>();
    stop->rank = stop_rank;
    stop->epoch = stop_epoch;
    trainer.add_plugin(std::move(stop));
    auto signal = std::make_unique<SignalAt>();
    signal->rank = signal_rank;
    signal->step = signal_at_step;
    signal->signal = signal_name == "usr1" ? SIGUSR1 : SIGTERM;
    trainer.add_plugin(std::move(signal));
    trainer.add_plugin(std::make_unique<SaveReporter>());
    if (!prepare_log.empty()) {
      PreparingData data(prepare_log, loader);
      trainer.fit(model, data, ckpt_path);
      std::printf("rank %s: prepared before setup: %s\n", std::getenv("RANK") ? std::getenv("RANK") : "?",
                  data.prepared_before_setup ? "yes" : "no");
    } else {
      trainer.fit(model, loader, nullptr, ckpt_path);
    }
    if (!save.empty()) trainer.save_checkpoint(save);
    if (!out.empty() && trainer.is_global_zero()) torch::save(fulgur::testing::flat_parameters(model), out);
    std::printf("rank %lld of %lld: %lld steps, rank_mean %.2f\n", static_cast<long long>(trainer.global_rank()),
                static_cast<long long>(trainer.world_size()), static_cast<long long>(trainer.global_step()),
                trainer.metrics().value("rank_mean").value_or(-1.0));
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
