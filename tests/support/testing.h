// What the test suites share: small real models, data, and a plugin that records hooks.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "fulgur/data_loader.h"
#include "fulgur/error.h"
#include "fulgur/logger.h"
#include "fulgur/module.h"
#include "fulgur/plugin.h"
#include "fulgur/trainer.h"

namespace fulgur::testing {

/// A linearly separable 2-class problem: `samples` rows of `features` columns, fixed by `seed`.
struct Blobs {
  torch::Tensor x;
  torch::Tensor y;
};
Blobs make_blobs(int64_t samples, int64_t features = 4, uint64_t seed = 0);

TensorDataLoader make_loader(const Blobs& data, int64_t batch_size, bool shuffle = false, uint64_t seed = 0);

/// The blobs as a LibTorch dataset of (x, y) examples, for the LibTorch loader adapter.
class BlobExamples : public torch::data::datasets::Dataset<BlobExamples> {
 public:
  explicit BlobExamples(Blobs blobs) : blobs_(std::move(blobs)) {}
  torch::data::Example<> get(size_t index) override {
    return {blobs_.x[static_cast<int64_t>(index)], blobs_.y[static_cast<int64_t>(index)]};
  }
  torch::optional<size_t> size() const override { return static_cast<size_t>(blobs_.x.size(0)); }

 private:
  Blobs blobs_;
};

/// Trainer options for `max_epochs` epochs without progress bar, summary or checkpoints.
TrainerOptions quiet_options(int64_t max_epochs = 1);

/// A one-layer classifier with every step implemented; logs train_loss, val_loss, test_acc.
class TinyClassifier : public Module {
 public:
  explicit TinyClassifier(int64_t features = 4, double lr = 0.1);
  torch::Tensor forward(const torch::Tensor& x) { return linear->forward(x); }
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override;
  torch::Tensor validation_step(const Batch& batch, int64_t batch_idx) override;
  torch::Tensor test_step(const Batch& batch, int64_t batch_idx) override;
  torch::Tensor predict_step(const Batch& batch, int64_t batch_idx) override;
  OptimizerConfig configure_optimizers() override;

  torch::nn::Linear linear{nullptr};
  double lr;
};

/// Records "hook_name arguments" for every hook into a vector, like hook_trace does to a file.
class HookRecorder : public Plugin {
 public:
  std::string name() const override { return "hook_recorder"; }
  void attach(HookBus& bus) override;
  std::vector<std::string> calls;
};

/// A logger that keeps everything the Trainer hands it.
class RecordingLogger : public LoggerPlugin {
 public:
  std::string name() const override { return "recording_logger"; }
  void log_metrics(const Metrics& metrics, int64_t step) override { rows.emplace_back(step, metrics); }
  void log_hyperparams(const Hyperparameters& params) override { hparams.push_back(params); }
  void save() override { ++saves; }
  void finalize(const std::string& status) override { statuses.push_back(status); }

  std::vector<std::pair<int64_t, Metrics>> rows;
  std::vector<Hyperparameters> hparams;
  std::vector<std::string> statuses;
  int saves = 0;
};

/// Runs `body` and returns the message of the fulgur::Error it throws, or "" if it throws none.
template <typename Body>
std::string error_of(Body&& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

/// A flat copy of a module's parameters, for bit-for-bit comparisons.
torch::Tensor flat_parameters(torch::nn::Module& module);

/// The lines of a text file.
std::vector<std::string> read_lines(const std::string& path);

/// A fresh empty folder under the test temp dir, removed when this process exits (pass or fail).
std::string temp_dir(const std::string& name);

}  // namespace fulgur::testing
