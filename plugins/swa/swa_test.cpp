// The swa plugin on real fits: the average of the weights each averaging epoch starts from,
// SWALR's rates replacing the Module's scheduler, the BatchNorm epoch, resume, bad options.
#include <gtest/gtest.h>

#include <cmath>

#include "fulgur/lr_schedulers.h"
#include "fulgur/plugins/swa.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

// An MLP (optionally with BatchNorm) that records its weights and learning rate at every
// epoch start; SGD with a StepLR the plugin must replace.
class Net : public Module {
 public:
  explicit Net(bool batch_norm) {
    torch::manual_seed(3);
    seq = register_module("seq", torch::nn::Sequential());
    seq->push_back(torch::nn::Linear(4, 6));
    if (batch_norm) seq->push_back(torch::nn::BatchNorm1d(6));
    seq->push_back(torch::nn::ReLU());
    seq->push_back(torch::nn::Linear(6, 2));
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(seq->forward(batch[0]), batch[1]);
  }
  void on_train_epoch_start() override {
    starts.push_back(testing::flat_parameters(*this).clone());
    lrs.push_back(optimizer_lr());
  }
  OptimizerConfig configure_optimizers() override {
    auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.2).momentum(0.5));
    OptimizerConfig config(sgd);
    config.lr_schedulers.push_back({std::make_shared<StepLR>(*sgd, 1, 0.5)});
    return config;
  }
  double optimizer_lr() { return trainer().optimizers().at(0)->param_groups().at(0).options().get_lr(); }

  torch::nn::Sequential seq{nullptr};
  std::vector<torch::Tensor> starts;
  std::vector<double> lrs;
};

TrainerOptions options_for(int64_t epochs) {
  TrainerOptions options = testing::quiet_options(epochs);
  options.plugins().push_back(
      plugins::SwaOptions{}.swa_lrs({0.01}).swa_epoch_start(3).annealing_epochs(2).annealing_strategy("linear").spec());
  return options;
}

TEST(Swa, TheModelEndsAsTheAverageOfTheAveragingEpochsStartsAndSWALRSetsTheRate) {
  const auto data = testing::make_blobs(48);
  auto train = testing::make_loader(data, 8);
  Trainer trainer(options_for(6));
  Net model(false);
  trainer.fit(model, train);

  ASSERT_EQ(model.starts.size(), 6u);
  // swa_epoch_start=3 is the third epoch (index 2): it and every later start are averaged.
  const auto expected = (model.starts[2] + model.starts[3] + model.starts[4] + model.starts[5]) / 4.0;
  EXPECT_TRUE(testing::flat_parameters(model).allclose(expected, 1e-6, 1e-7));
  // StepLR halves the rate until SWALR takes over at epoch 2, then anneals linearly from 0.05
  // (0.2 * 0.5^2) to swa_lrs=0.01 over two epochs and stays (StepLR would have given 0.025).
  EXPECT_DOUBLE_EQ(model.lrs[0], 0.2);
  EXPECT_DOUBLE_EQ(model.lrs[1], 0.1);
  EXPECT_DOUBLE_EQ(model.lrs[2], 0.05);
  EXPECT_NEAR(model.lrs[3], 0.01 * 0.5 + 0.05 * 0.5, 1e-15);
  EXPECT_NEAR(model.lrs[4], 0.01, 1e-15);
  EXPECT_NEAR(model.lrs[5], 0.01, 1e-15);
  EXPECT_EQ(trainer.global_step(), 36);
}

TEST(Swa, BatchNormGetsAnExtraEpochThatRecomputesItsStatisticsForTheAverage) {
  const auto data = testing::make_blobs(48);
  auto train = testing::make_loader(data, 8);
  Trainer trainer(options_for(4));
  Net model(true);
  trainer.fit(model, train);

  // Four epochs and the BatchNorm one, whose batches take no optimizer step but one skipped one.
  EXPECT_EQ(model.starts.size(), 5u);
  EXPECT_EQ(trainer.global_step(), 4 * 6 + 1);
  EXPECT_EQ(trainer.max_epochs(), 4);  // given back
  const auto expected = (model.starts[2] + model.starts[3]) / 2.0;
  EXPECT_TRUE(testing::flat_parameters(model).allclose(expected, 1e-6, 1e-7));
  EXPECT_TRUE(model.starts[4].allclose(expected, 1e-6, 1e-7));  // the BN epoch starts from the average

  // The statistics are the cumulative average of the batch means under the averaged weights.
  auto* norm = model.seq[1]->as<torch::nn::BatchNorm1d>();
  torch::NoGradGuard no_grad;
  const auto hidden = model.seq[0]->as<torch::nn::Linear>()->forward(data.x);
  EXPECT_TRUE(norm->running_mean.allclose(hidden.mean(0), 1e-5, 1e-6));
  EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), 6);
  EXPECT_EQ(norm->options.momentum(), c10::optional<double>(0.1));  // momentum given back
}

TEST(Swa, AResumedFitEndsWhereAnUninterruptedOneDoes) {
  const auto data = testing::make_blobs(48);
  auto train = testing::make_loader(data, 8);
  Trainer whole(options_for(6));
  Net uninterrupted(false);
  whole.fit(uninterrupted, train);

  TrainerOptions first_half = options_for(6);
  first_half.max_steps(4 * 6);  // stops after four epochs, two of them averaged
  Trainer first(first_half);
  Net resumed(false);
  first.fit(resumed, train);
  const std::string path = testing::temp_dir("swa_resume") + "/mid.ckpt";
  first.save_checkpoint(path);

  Trainer second(options_for(6));
  Net fresh(false);
  second.fit(fresh, train, {}, path);
  ASSERT_EQ(fresh.lrs.size(), 2u);  // epochs 4 and 5 ran again
  EXPECT_DOUBLE_EQ(fresh.lrs[0], uninterrupted.lrs[4]);
  EXPECT_DOUBLE_EQ(fresh.lrs[1], uninterrupted.lrs[5]);
  EXPECT_TRUE(fresh.starts[0].allclose(uninterrupted.starts[4], 1e-6, 1e-7));
  EXPECT_TRUE(testing::flat_parameters(fresh).allclose(testing::flat_parameters(uninterrupted), 1e-6, 1e-7));
}

TEST(Swa, BadOptionsAreNamed) {
  const auto error_for = [](const PluginSpec& spec) {
    return error_of([&] {
      TrainerOptions options = testing::quiet_options(2);
      options.plugins().push_back(spec);
      Trainer trainer(options);
    });
  };
  EXPECT_NE(error_for(PluginSpec::parse("swa")).find("swa_lrs' is required"), std::string::npos);
  EXPECT_NE(error_for(PluginSpec::parse("swa:swa_lrs=-0.1")).find("positive"), std::string::npos);
  EXPECT_NE(error_for(PluginSpec::parse("swa:swa_lrs=0.1,swa_epoch_start=1.5")).find("swa_epoch_start"),
            std::string::npos);
  EXPECT_NE(error_for(PluginSpec::parse("swa:swa_lrs=0.1,annealing_strategy=exp")).find("cos or linear"),
            std::string::npos);
  EXPECT_NE(error_for(PluginSpec::parse("swa:swa_lrs=0.1/x")).find("swa_lrs"), std::string::npos);

  // Two param-group rates for one group: named when SWA starts.
  const auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  TrainerOptions options = testing::quiet_options(2);
  options.plugins().push_back(plugins::SwaOptions().swa_lrs({0.1, 0.2}).swa_epoch_start(1).spec());
  Trainer trainer(options);
  Net model(false);
  EXPECT_NE(error_of([&] { trainer.fit(model, train); }).find("param groups"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
