// What each Trainer option does to a real training run.
#include <gtest/gtest.h>

#include "fulgur/compat.h"
#include "fulgur/lr_scheduler.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::HookRecorder;
using testing::TinyClassifier;

int64_t count(const std::vector<std::string>& calls, const std::string& hook) {
  return std::count(calls.begin(), calls.end(), hook);
}

HookRecorder& record(Trainer& trainer) {
  return static_cast<HookRecorder&>(trainer.add_plugin(std::make_unique<HookRecorder>()));
}

TEST(Trainer, FitLearnsAndTestReportsAccuracy) {
  auto data = testing::make_blobs(256);
  auto train = testing::make_loader(data, 32, /*shuffle=*/true, 1);
  auto val = testing::make_loader(data, 64);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(5);
  Trainer trainer(options);
  trainer.fit(model, train, val);
  EXPECT_EQ(trainer.global_step(), 5 * 8);
  EXPECT_EQ(trainer.current_epoch(), 5);
  EXPECT_LT(*trainer.metrics().value("val_loss"), 0.3);
  const auto results = trainer.test(model, val);
  ASSERT_TRUE(results.count("test_acc"));
  EXPECT_GT(results.at("test_acc"), 0.95);
}

TEST(Trainer, MaxStepsStopsMidEpoch) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 4);  // 16 batches
  TinyClassifier model;
  TrainerOptions options;
  options.max_steps(3);
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 3);
  EXPECT_EQ(count(recorder.calls, "on_train_epoch_end epoch=0"), 1);
  EXPECT_EQ(count(recorder.calls, "on_train_epoch_start epoch=1"), 0);
}

TEST(Trainer, MaxEpochsAndCountLimit) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 4);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(3);
  options.limit_train_batches(2);
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 6);
  EXPECT_EQ(trainer.current_epoch(), 3);
}

TEST(Trainer, FractionLimitTakesThatShareOfTheEpoch) {
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);  // 8 batches
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(1);
  options.limit_train_batches(0.25);
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 2);
}

TEST(Trainer, ZeroValBatchesDisablesValidation) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 4);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(1);
  options.limit_val_batches(0);
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train, val);
  EXPECT_EQ(count(recorder.calls, "on_validation_start"), 0);
}

TEST(Trainer, AccumulatedGradientsEqualTheBigBatchGradient) {
  auto data = testing::make_blobs(8);
  torch::manual_seed(0);
  TinyClassifier accumulated;
  TinyClassifier big_batch;
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < big_batch.parameters().size(); ++i) {
      big_batch.parameters()[i].copy_(accumulated.parameters()[i]);
    }
  }
  TrainerOptions options;
  options.max_epochs(1);
  options.accumulate_grad_batches(2);
  auto small = testing::make_loader(data, 4);  // 2 micro-batches -> 1 step
  Trainer(options).fit(accumulated, small);

  options.accumulate_grad_batches(1);
  auto whole = testing::make_loader(data, 8);  // 1 batch -> 1 step
  Trainer(options).fit(big_batch, whole);

  EXPECT_TRUE(torch::allclose(testing::flat_parameters(accumulated), testing::flat_parameters(big_batch), 1e-6, 1e-6));
}

TEST(Trainer, AccumulationStepsOnTheLastPartialWindow) {
  auto data = testing::make_blobs(20);
  auto train = testing::make_loader(data, 4);  // 5 batches, windows of 2: steps after 2, 4 and 5
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(1);
  options.accumulate_grad_batches(2);
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 3);
}

TEST(Trainer, ValCheckIntervalFractionValidatesTwicePerEpoch) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);  // 4 batches
  auto val = testing::make_loader(data, 8);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(2);
  options.val_check_interval(0.5);
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train, val);
  EXPECT_EQ(count(recorder.calls, "on_validation_start"), 4);
}

TEST(Trainer, ValCheckIntervalCountsAcrossEpochsWithoutEpochCadence) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);  // 4 batches x 3 epochs = 12: validate at 5 and 10
  auto val = testing::make_loader(data, 8);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(3);
  options.val_check_interval(5);
  options.check_val_every_n_epoch().reset();
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train, val);
  EXPECT_EQ(count(recorder.calls, "on_validation_start"), 2);
}

TEST(Trainer, CheckValEveryNEpoch) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 8);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(4);
  options.check_val_every_n_epoch(2);
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train, val);
  EXPECT_EQ(count(recorder.calls, "on_validation_start"), 2);
  EXPECT_EQ(count(recorder.calls, "on_validation_epoch_start epoch=1"), 1);
  EXPECT_EQ(count(recorder.calls, "on_validation_epoch_start epoch=3"), 1);
}

TEST(Trainer, SanityCheckRunsAtMostNumSanityValStepsAndLeavesNoMetrics) {
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 4);  // 8 batches
  TinyClassifier model;
  TrainerOptions options;
  options.max_steps(0);
  options.num_sanity_val_steps(3);
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train, val);
  EXPECT_EQ(count(recorder.calls, "on_validation_batch_start batch=2"), 1);
  EXPECT_EQ(count(recorder.calls, "on_validation_batch_start batch=3"), 0);
  EXPECT_FALSE(trainer.callback_metrics().count("val_loss"));
}

class StopAfter : public Plugin {
 public:
  explicit StopAfter(int64_t step) : step_(step) {}
  std::string name() const override { return "stop_after"; }
  void attach(HookBus& bus) override {
    connect(bus.on_train_batch_end, [this](BatchEndHook& hook) {
      if (hook.trainer.global_step() >= step_) hook.trainer.should_stop = true;
    });
  }

 private:
  int64_t step_;
};

TEST(Trainer, ShouldStopEndsTrainingAfterTheCurrentBatch) {
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(10);
  Trainer trainer(options);
  trainer.add_plugin(std::make_unique<StopAfter>(2));
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 2);
  EXPECT_EQ(trainer.current_epoch(), 1);
}

TEST(Trainer, ShouldStopWaitsForMinEpochs) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);  // 4 steps per epoch
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(10);
  options.min_epochs(3);
  Trainer trainer(options);
  trainer.add_plugin(std::make_unique<StopAfter>(1));
  trainer.fit(model, train);
  // should_stop is set from the first batch on, but epochs 0, 1 and 2 must complete first.
  EXPECT_EQ(trainer.global_step(), 12);
  EXPECT_EQ(trainer.current_epoch(), 3);
}

TEST(Trainer, TwoRunsWithOneSeedMatchBitForBit) {
  auto run = [](uint64_t seed) {
    auto data = testing::make_blobs(64);
    torch::manual_seed(seed);
    TinyClassifier model;
    auto train = testing::make_loader(data, 8, /*shuffle=*/true, seed);
    TrainerOptions options;
    options.max_epochs(3);
    options.seed(seed);
    Trainer(options).fit(model, train);
    return testing::flat_parameters(model);
  };
  const auto first = run(7);
  const auto second = run(7);
  const auto other = run(8);
  EXPECT_TRUE(torch::equal(first, second));
  EXPECT_FALSE(torch::equal(first, other));
}

// Two sub-networks with one optimizer each, stepped by hand: the GAN pattern.
class TwoOptimizers : public Module {
 public:
  TwoOptimizers() {
    set_automatic_optimization(false);
    generator = register_module("generator", torch::nn::Linear(4, 4));
    discriminator = register_module("discriminator", torch::nn::Linear(4, 1));
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    auto opts = optimizers();
    auto fake = generator(torch::randn_like(batch[0]));
    auto d_loss =
        torch::softplus(-discriminator(batch[0])).mean() + torch::softplus(discriminator(fake.detach())).mean();
    opts[1].zero_grad();
    manual_backward(d_loss);
    opts[1].step();
    auto g_loss = torch::softplus(-discriminator(fake)).mean();
    opts[0].zero_grad();
    manual_backward(g_loss);
    opts[0].step();
    log("d_loss", d_loss);
    log("g_loss", g_loss);
    return g_loss.detach();
  }
  OptimizerConfig configure_optimizers() override {
    return std::vector<std::shared_ptr<torch::optim::Optimizer>>{
        std::make_shared<torch::optim::Adam>(generator->parameters(), torch::optim::AdamOptions(1e-2)),
        std::make_shared<torch::optim::Adam>(discriminator->parameters(), torch::optim::AdamOptions(1e-2))};
  }
  torch::nn::Linear generator{nullptr}, discriminator{nullptr};
};

TEST(Trainer, ManualOptimizationTrainsBothOptimizers) {
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 8);
  TwoOptimizers model;
  const auto generator_before = testing::flat_parameters(*model.generator);
  const auto discriminator_before = testing::flat_parameters(*model.discriminator);
  TrainerOptions options;
  options.max_epochs(2);
  options.accelerator("cpu");  // the comparison above holds CPU copies
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train);
  EXPECT_FALSE(torch::equal(generator_before, testing::flat_parameters(*model.generator)));
  EXPECT_FALSE(torch::equal(discriminator_before, testing::flat_parameters(*model.discriminator)));
  EXPECT_EQ(trainer.global_step(), 2 * 2 * 4);  // two optimizer steps per batch
  EXPECT_EQ(count(recorder.calls, "on_before_optimizer_step optimizer=1"), 8);
  EXPECT_EQ(count(recorder.calls, "on_before_backward"), 16);
}

// Halves the learning rate at every step, so the LR counts the scheduler's steps.
class HalvingScheduler : public LRScheduler {
 public:
  explicit HalvingScheduler(torch::optim::Optimizer& optimizer) : LRScheduler(optimizer) { apply_lrs(); }
  double lr_at(int64_t step, double base_lr) const override { return base_lr * std::pow(0.5, step); }
  std::string kind() const override { return "halving"; }
};

class WithScheduler : public TinyClassifier {
 public:
  std::string interval = "epoch";
  int64_t frequency = 1;
  OptimizerConfig configure_optimizers() override {
    auto optimizer = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.8));
    OptimizerConfig config(optimizer);
    LRSchedulerConfig scheduler;
    scheduler.scheduler = std::make_shared<HalvingScheduler>(*optimizer);
    scheduler.interval(interval);
    scheduler.frequency(frequency);
    config.lr_schedulers.push_back(scheduler);
    return config;
  }
};

double learning_rate(const Trainer& trainer) {
  return trainer.optimizers().front()->param_groups().front().options().get_lr();
}

TEST(Trainer, EpochSchedulerStepsOncePerEpoch) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  WithScheduler model;
  TrainerOptions options;
  options.max_epochs(3);
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_DOUBLE_EQ(learning_rate(trainer), 0.8 * 0.5 * 0.5 * 0.5);
}

TEST(Trainer, StepSchedulerHonoursFrequency) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  WithScheduler model;
  model.interval = "step";
  model.frequency = 2;
  TrainerOptions options;
  options.max_epochs(1);  // 4 steps -> 2 scheduler steps
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_DOUBLE_EQ(learning_rate(trainer), 0.8 * 0.5 * 0.5);
}

TEST(Trainer, LogsWithoutValidationStepSkipValidation) {
  struct TrainOnly : Module {
    TrainOnly() { linear = register_module("linear", torch::nn::Linear(4, 2)); }
    torch::Tensor training_step(const Batch& batch, int64_t) override {
      return torch::nn::functional::cross_entropy(linear(batch[0]), batch[1]);
    }
    OptimizerConfig configure_optimizers() override { return std::make_shared<torch::optim::SGD>(parameters(), 0.1); }
    torch::nn::Linear linear{nullptr};
  };
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 4);
  TrainOnly model;
  TrainerOptions options;
  options.max_epochs(1);
  Trainer trainer(options);
  auto& recorder = record(trainer);
  trainer.fit(model, train, val);
  EXPECT_EQ(count(recorder.calls, "on_validation_start"), 0);
  EXPECT_EQ(trainer.global_step(), 4);
}

TEST(Trainer, DeterministicOptionTurnsOnDeterministicAlgorithms) {
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(1);
  options.deterministic(true);
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_TRUE(at::globalContext().deterministicAlgorithms());
  compat::use_deterministic_algorithms(false);
}

}  // namespace
}  // namespace fulgur
