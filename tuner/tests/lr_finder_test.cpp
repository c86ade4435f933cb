// The LR finder on real fits: Lightning's sweep, smoothing, early stop and suggestion, the
// picture, the weights put back, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "fulgur/lr_schedulers.h"
#include "fulgur/tuner.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

// TinyClassifier with a StepLR the sweep must keep out of its way.
class Scheduled : public testing::TinyClassifier {
 public:
  OptimizerConfig configure_optimizers() override {
    auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(lr));
    OptimizerConfig config(sgd);
    config.lr_schedulers.push_back({std::make_shared<StepLR>(*sgd, 1, 0.1), "step"});
    return config;
  }
};

TEST(LRFinder, SweepsLightningsScheduleAndPutsTheWeightsBack) {
  const auto data = testing::make_blobs(256, 4, 1);
  auto train = testing::make_loader(data, 8);
  const std::string dir = testing::temp_dir("lr_find");
  TrainerOptions options = testing::quiet_options(3);
  options.default_root_dir(dir);
  Trainer trainer(options);
  Tuner tuner(trainer);
  Scheduled model;
  const auto before = testing::flat_parameters(model).clone();
  const auto finder = tuner.lr_find(model, train, {}, LRFindOptions().min_lr(1e-5).max_lr(10).num_training(40));

  ASSERT_EQ(finder.lrs().size(), finder.losses().size());
  ASSERT_GE(finder.lrs().size(), 13u);
  EXPECT_DOUBLE_EQ(finder.lrs()[0], 1e-5);
  for (std::size_t k = 1; k < finder.lrs().size(); ++k) {
    EXPECT_NEAR(finder.lrs()[k], 1e-5 * std::pow(1e6, static_cast<double>(k + 1) / 40), 1e-12 * finder.lrs()[k]) << k;
  }
  EXPECT_TRUE(testing::flat_parameters(model).equal(before));  // the fit will start where it would have

  const auto suggestion = finder.suggestion();
  ASSERT_TRUE(suggestion);
  EXPECT_GE(*suggestion, 1e-5);
  EXPECT_LE(*suggestion, 10.0);
  EXPECT_EQ(finder.plot_path(), dir + "/lr_find.svg");
  std::ifstream svg(finder.plot_path());
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("<polyline"), std::string::npos);
  EXPECT_NE(text.find("suggested lr"), std::string::npos);
  EXPECT_NE(text.find("Learning rate"), std::string::npos);

  // The real fit afterwards is an ordinary one.
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 3 * 32);
}

// Its loss grows with the square of the weights, so rates past 2 / curvature make it explode.
class Exploding : public testing::TinyClassifier {
 public:
  torch::Tensor training_step(const Batch& batch, int64_t) override { return forward(batch[0]).pow(2).mean() * 1e3; }
};

// Keeps one optimizer for all its fits.
class KeepsItsOptimizer : public testing::TinyClassifier {
 public:
  KeepsItsOptimizer() {
    sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  }
  OptimizerConfig configure_optimizers() override { return sgd; }
  std::shared_ptr<torch::optim::SGD> sgd;
};

TEST(LRFinder, AnOptimizerTheModuleKeepsIsPutBackToo) {
  const auto data = testing::make_blobs(128);
  auto train = testing::make_loader(data, 8);
  Tuner tuner(testing::quiet_options(1));
  KeepsItsOptimizer model;
  tuner.lr_find(model, train, {}, LRFindOptions().num_training(20).plot_path("none"));
  EXPECT_DOUBLE_EQ(model.sgd->param_groups()[0].options().get_lr(), 0.05);
  EXPECT_TRUE(model.sgd->state().empty());  // no momentum buffers left from the sweep
}

TEST(LRFinder, StopsEarlyWhenTheSmoothedLossDiverges) {
  const auto data = testing::make_blobs(512, 4, 2);
  auto train = testing::make_loader(data, 8);
  Tuner tuner(testing::quiet_options(1));
  Exploding model;
  const auto finder =
      tuner.lr_find(model, train, {}, LRFindOptions().min_lr(1e-7).max_lr(1.0).num_training(60).plot_path("none"));
  ASSERT_LT(finder.losses().size(), 60u);
  double best = finder.losses()[0];
  for (std::size_t i = 0; i + 1 < finder.losses().size(); ++i) best = std::min(best, finder.losses()[i]);
  EXPECT_GT(finder.losses().back(), 4 * best);
  EXPECT_EQ(finder.plot_path(), "");
}

TEST(LRFinder, SuggestsTheSteepestDescentAsLightningComputesIt) {
  // d loss / d lr is most negative between lr 14 and 16; the first 10 and the last point are skipped.
  std::vector<double> lrs, losses;
  for (int i = 0; i < 25; ++i) {
    lrs.push_back(i);
    losses.push_back(i == 0 ? -100.0 : 10.0 - (i >= 15 ? 3.0 : 0.0));
  }
  const LRFinder finder("linear", lrs, losses);
  ASSERT_TRUE(finder.suggestion_index());
  EXPECT_TRUE(*finder.suggestion_index() == 14 || *finder.suggestion_index() == 15);
  EXPECT_FALSE(LRFinder("linear", {1, 2, 3}, {1, 2, 3}).suggestion());
}

TEST(LRFinder, AModelThatDivergesAtOnceIsNamed) {
  const auto data = testing::make_blobs(256);
  auto train = testing::make_loader(data, 8);
  Tuner tuner(testing::quiet_options(1));
  Exploding model;
  const std::string error = error_of([&] {
    tuner.lr_find(model, train, {}, LRFindOptions().min_lr(1.0).max_lr(1e6).num_training(30).plot_path("none"));
  });
  EXPECT_NE(error.find("lr_find:"), std::string::npos) << error;
  EXPECT_TRUE(error.find("diverged") != std::string::npos || error.find("diverges at once") != std::string::npos)
      << error;
}

// Reads its rate from hparams(), as Lightning's `self.hparams.lr` (or `learning_rate`).
class FromHparams : public testing::TinyClassifier {
 public:
  explicit FromHparams(const std::string& key) {
    save_hyperparameters({{key, 0.01}});
    key_ = key;
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), hparams().get<double>(key_));
  }
  std::string key_;
};

TEST(LRFinder, TheSuggestionIsAppliedToTheModulesLearningRate) {
  const auto data = testing::make_blobs(256, 4, 1);
  auto train = testing::make_loader(data, 8);
  TrainerOptions options = testing::quiet_options(3);
  options.default_root_dir(testing::temp_dir("lr_find_apply"));
  Trainer trainer(options);
  Tuner tuner(trainer);
  for (const std::string key : {"lr", "learning_rate"}) {
    FromHparams model(key);
    const auto finder = tuner.lr_find(model, train, {}, LRFindOptions().min_lr(1e-5).max_lr(10).num_training(40));
    ASSERT_TRUE(finder.suggestion());
    EXPECT_EQ(model.hparams().get<double>(key), *finder.suggestion()) << key;
    // The fit then trains with it (configure_optimizers reads the hyper-parameter).
    trainer.fit(model, train);
    EXPECT_EQ(
        static_cast<const torch::optim::SGDOptions&>(trainer.optimizers().front()->param_groups()[0].options()).lr(),
        *finder.suggestion());
  }
  // Turned off, or a name the hparams lack: not applied, or an error before any search.
  FromHparams kept("lr");
  tuner.lr_find(kept, train, {}, LRFindOptions().num_training(20).update_attr(false).plot_path("none"));
  EXPECT_EQ(kept.hparams().get<double>("lr"), 0.01);
  EXPECT_NE(error_of([&] {
              tuner.lr_find(kept, train, {}, LRFindOptions().attr_name("rate"));
            }).find("attr_name 'rate' is not among the Module's hparams (lr)"),
            std::string::npos);
}

TEST(LRFinder, BadOptionsAreNamed) {
  const auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 8);
  Tuner tuner(testing::quiet_options(1));
  testing::TinyClassifier model;
  EXPECT_NE(
      error_of([&] { tuner.lr_find(model, train, {}, LRFindOptions().min_lr(1).max_lr(0.1)); }).find("min_lr < max_lr"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { tuner.lr_find(model, train, {}, LRFindOptions().mode("cubic")); }).find("exponential or linear"),
      std::string::npos);
  TrainerOptions ddp = testing::quiet_options(1);
  ddp.strategy("ddp");
  ddp.devices(2);
  EXPECT_NE(error_of([&] { Tuner(ddp).lr_find(model, train); }).find("one process"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
