// The Trainer options Lightning users debug and tune with: fast_dev_run, overfit_batches,
// inference_mode, benchmark, reload_dataloaders_every_n_epochs, and the "true" precisions.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "fulgur/command_line.h"
#include "fulgur/data.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

int64_t count_calls(const std::vector<std::string>& calls, const std::string& prefix) {
  return std::count_if(calls.begin(), calls.end(), [&](const std::string& call) { return call.rfind(prefix, 0) == 0; });
}

TEST(FastDevRun, RunsNBatchesOfEveryLoopWithoutCheckpointsOrLogs) {
  const auto data = testing::make_blobs(96);
  auto train = testing::make_loader(data, 8);
  auto val = testing::make_loader(data, 8);
  const std::string dir = testing::temp_dir("fast_dev_run");
  TrainerOptions options = testing::quiet_options(5);
  options.fast_dev_run(2);
  options.default_root_dir(dir);
  options.plugins().push_back(PluginSpec::parse("model_checkpoint:dirpath=" + dir + "/ckpt"));
  Trainer trainer(options);
  auto& recorder = static_cast<testing::HookRecorder&>(trainer.add_plugin(std::make_unique<testing::HookRecorder>()));
  auto& logger =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  testing::TinyClassifier model;
  trainer.fit(model, train, val);

  EXPECT_EQ(count_calls(recorder.calls, "on_train_batch_start"), 2);
  EXPECT_EQ(count_calls(recorder.calls, "on_validation_batch_start"), 2);  // no sanity check, one validation
  EXPECT_EQ(count_calls(recorder.calls, "on_sanity_check_start"), 0);
  EXPECT_EQ(count_calls(recorder.calls, "on_train_epoch_start"), 1);
  EXPECT_EQ(trainer.global_step(), 2);
  EXPECT_EQ(trainer.options().max_steps(), 2);
  EXPECT_EQ(trainer.options().limit_val_batches().count(), 2);

  recorder.calls.clear();
  trainer.test(model, val);
  EXPECT_EQ(count_calls(recorder.calls, "on_test_batch_start"), 2);
  EXPECT_EQ(trainer.predict(model, val).size(), 2u);

  EXPECT_TRUE(logger.rows.empty());
  EXPECT_TRUE(logger.hparams.empty());
  EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt"));
  EXPECT_NE(error_of([&] { trainer.test(model, val, "best"); }), "");
}

TEST(FastDevRun, NegativeIsNamed) {
  TrainerOptions options = testing::quiet_options();
  options.fast_dev_run(-1);
  EXPECT_NE(error_of([&] { Trainer trainer(options); }).find("fast_dev_run"), std::string::npos);
}

// Records the first sample of every training and validation batch.
class FirstSamples : public testing::TinyClassifier {
 public:
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    train_seen[current_epoch()].push_back(batch[0][0][0].item<float>());
    return TinyClassifier::training_step(batch, batch_idx);
  }
  torch::Tensor validation_step(const Batch& batch, int64_t batch_idx) override {
    if (!trainer().sanity_checking()) val_seen[current_epoch()].push_back(batch[0][0][0].item<float>());
    return TinyClassifier::validation_step(batch, batch_idx);
  }
  std::map<int64_t, std::vector<float>> train_seen;
  std::map<int64_t, std::vector<float>> val_seen;
};

TEST(OverfitBatches, TrainsOnTheSameFirstBatchesEveryEpochWithShufflingOff) {
  const auto data = testing::make_blobs(96);
  auto train = testing::make_loader(data, 8, /*shuffle=*/true, 5);
  auto val = testing::make_loader(data, 8, /*shuffle=*/true, 6);
  TrainerOptions options = testing::quiet_options(3);
  options.overfit_batches(3);
  options.limit_train_batches(10);  // replaced, as in Lightning
  Trainer trainer(options);
  FirstSamples model;
  trainer.fit(model, train, val);
  EXPECT_FALSE(train.shuffles());
  ASSERT_EQ(model.train_seen.size(), 3u);
  for (const auto& [epoch, firsts] : model.train_seen) {
    ASSERT_EQ(firsts.size(), 3u);
    EXPECT_EQ(firsts, model.train_seen[0]) << "epoch " << epoch;
    for (int64_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(firsts[i], data.x[i * 8][0].item<float>());  // in order
  }
  for (const auto& [epoch, firsts] : model.val_seen) EXPECT_EQ(firsts, model.val_seen[0]) << "epoch " << epoch;
  EXPECT_EQ(model.val_seen[0].size(), 3u);

  // A fraction is of each loader: a quarter of 12 batches.
  TrainerOptions fraction = testing::quiet_options(1);
  fraction.overfit_batches(0.25);
  Trainer quarter(fraction);
  FirstSamples other;
  quarter.fit(other, train);
  EXPECT_EQ(other.train_seen[0].size(), 3u);
}

TEST(OverfitBatches, MoreBatchesThanTheDataHoldIsNamed) {
  const auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 8);
  TrainerOptions options = testing::quiet_options(1);
  options.overfit_batches(5);
  Trainer trainer(options);
  testing::TinyClassifier model;
  const std::string error = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(error.find("overfit_batches=5 exceeds the 4 batches of the training loader"), std::string::npos) << error;

  options.overfit_batches(0.1);  // floor(0.4) = 0 batches
  Trainer none(options);
  const std::string nothing = error_of([&] { none.fit(model, train); });
  EXPECT_NE(nothing.find("selects no batch"), std::string::npos) << nothing;
}

// Records the grad mode each evaluation step runs under.
class GradModes : public testing::TinyClassifier {
 public:
  torch::Tensor validation_step(const Batch& batch, int64_t batch_idx) override {
    inference.insert(c10::InferenceMode::is_enabled());
    grad.insert(torch::GradMode::is_enabled());
    return TinyClassifier::validation_step(batch, batch_idx);
  }
  torch::Tensor predict_step(const Batch& batch, int64_t batch_idx) override {
    inference.insert(c10::InferenceMode::is_enabled());
    return TinyClassifier::predict_step(batch, batch_idx);
  }
  std::set<bool> inference;
  std::set<bool> grad;
};

TEST(InferenceMode, EvaluationRunsUnderInferenceModeOrNoGrad) {
  const auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 8);
  auto val = testing::make_loader(data, 8);
  for (const bool inference_mode : {true, false}) {
    TrainerOptions options = testing::quiet_options(2);
    options.inference_mode(inference_mode);
    Trainer trainer(options);
    GradModes model;
    trainer.fit(model, train, val);
    trainer.predict(model, val);
    EXPECT_EQ(model.inference, std::set<bool>{inference_mode});
    EXPECT_EQ(model.grad, std::set<bool>{false});
    // Training after validation still has autograd: the weights moved in both epochs.
    EXPECT_TRUE(torch::isfinite(testing::flat_parameters(model)).all().item<bool>());
    EXPECT_FALSE(c10::InferenceMode::is_enabled());
  }
}

TEST(Benchmark, SetsCuDNNsAutotunerAsLightningDoes) {
  const auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  const auto fit_with = [&](std::optional<bool> benchmark, bool deterministic) {
    TrainerOptions options = testing::quiet_options(1);
    options.benchmark(benchmark);
    options.deterministic(deterministic);
    Trainer trainer(options);
    testing::TinyClassifier model;
    trainer.fit(model, train);
    return at::globalContext().benchmarkCuDNN();
  };
  EXPECT_TRUE(fit_with(true, false));
  EXPECT_TRUE(fit_with(std::nullopt, false));  // unset leaves it as it was
  EXPECT_FALSE(fit_with(std::nullopt, true));  // deterministic turns it off
  EXPECT_FALSE(fit_with(false, false));
  EXPECT_FALSE(fit_with(std::nullopt, false));
}

// A DataModule whose loaders grow by one sample per batch each time they are asked for.
class Growing : public DataModule {
 public:
  DataLoaders train_dataloader() override {
    ++train_calls;
    return std::make_unique<TensorDataLoader>(testing::make_loader(data_, 4 + train_calls));
  }
  DataLoaders val_dataloader() override {
    ++val_calls;
    return std::make_unique<TensorDataLoader>(testing::make_loader(data_, 8));
  }
  int64_t train_calls = 0;
  int64_t val_calls = 0;

 private:
  testing::Blobs data_ = testing::make_blobs(60);
};

class BatchSizes : public testing::TinyClassifier {
 public:
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    if (batch_idx == 0) sizes.push_back(batch[0].size(0));
    return TinyClassifier::training_step(batch, batch_idx);
  }
  std::vector<int64_t> sizes;
};

TEST(ReloadDataloaders, AsksTheHooksAgainEveryNEpochs) {
  TrainerOptions options = testing::quiet_options(5);
  options.reload_dataloaders_every_n_epochs(2);
  Trainer trainer(options);
  Growing data;
  BatchSizes model;
  trainer.fit(model, data);
  EXPECT_EQ(data.train_calls, 3);  // epochs 0, 2 and 4
  EXPECT_EQ(data.val_calls, 3);
  EXPECT_EQ(model.sizes, (std::vector<int64_t>{5, 5, 6, 6, 7}));

  TrainerOptions once = testing::quiet_options(3);
  Trainer keeps(once);
  Growing same;
  keeps.fit(model, same);
  EXPECT_EQ(same.train_calls, 1);
}

// Records the dtypes a step sees.
class Dtypes : public testing::TinyClassifier {
 public:
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    input = batch[0].scalar_type();
    made = torch::zeros({1}).scalar_type();
    return TinyClassifier::training_step(batch, batch_idx);
  }
  torch::ScalarType input = torch::kFloat;
  torch::ScalarType made = torch::kFloat;
};

TEST(TruePrecision, WeightsInputsAndNewTensorsTakeTheDtype) {
  const auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 8);
  auto val = testing::make_loader(data, 8);
  for (const std::string precision : {"bf16-true", "16-true", "64-true"}) {
    const auto dtype = precision == "bf16-true" ? torch::kBFloat16
                       : precision == "16-true" ? torch::kHalf
                                                : torch::kDouble;
    TrainerOptions options = testing::quiet_options(2);
    options.precision(precision);
    Trainer trainer(options);
    Dtypes model;
    const auto before = testing::flat_parameters(model).clone();
    const std::string error = error_of([&] { trainer.fit(model, train, val); });
    if (precision == "16-true" && error.find("not implemented for 'Half'") != std::string::npos) {
      // LibTorch 1.13 has no half matmul on the CPU; 2.x does.
      EXPECT_EQ(c10::get_default_dtype(), caffe2::TypeMeta::Make<float>());
      continue;
    }
    ASSERT_EQ(error, "") << precision;
    EXPECT_EQ(model.linear->weight.scalar_type(), dtype) << precision;
    EXPECT_EQ(model.input, dtype) << precision;
    EXPECT_EQ(model.made, dtype) << precision;
    EXPECT_EQ(c10::get_default_dtype(), caffe2::TypeMeta::Make<float>()) << precision;  // restored after the step
    EXPECT_FALSE(testing::flat_parameters(model).to(torch::kFloat).allclose(before)) << precision;  // it trained
    const auto results = trainer.test(model, val);
    EXPECT_GT(results.at("test_acc"), 0.5) << precision;
  }
}

TEST(CommandLine, ParsesTheDebuggingOptions) {
  std::vector<const char*> args = {"prog", "--fast-dev-run",      "3",           "--overfit-batches",
                                   "0.5",  "--no-inference-mode", "--benchmark", "--reload-dataloaders-every-n-epochs",
                                   "2",    "--precision",         "bf16-true"};
  const auto options = parse_trainer_options(static_cast<int>(args.size()), args.data());
  EXPECT_EQ(options.fast_dev_run(), 3);
  EXPECT_DOUBLE_EQ(options.overfit_batches().fraction(), 0.5);
  EXPECT_FALSE(options.inference_mode());
  EXPECT_EQ(options.benchmark(), true);
  EXPECT_EQ(options.reload_dataloaders_every_n_epochs(), 2);
  EXPECT_EQ(options.canonical_precision(), "bf16-true");
  std::vector<const char*> off = {"prog", "--no-benchmark"};
  EXPECT_EQ(parse_trainer_options(2, off.data()).benchmark(), false);
  EXPECT_FALSE(parse_trainer_options(1, off.data()).benchmark().has_value());
}

}  // namespace
}  // namespace fulgur
