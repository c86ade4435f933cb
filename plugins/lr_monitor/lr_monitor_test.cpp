// lr_monitor: the learning rates the loggers receive follow the schedule, step by step.
#include <gtest/gtest.h>

#include "fulgur/lr_schedulers.h"
#include "fulgur/plugins/lr_monitor.h"
#include "testing.h"

namespace fulgur {
namespace {

TrainerOptions quiet(int64_t max_epochs) {
  TrainerOptions options;
  options.max_epochs(max_epochs);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  return options;
}

TEST(LRMonitor, LogsTheRateOfEachStepWithTheStepRows) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);  // 4 steps per epoch
  testing::TinyClassifier model;
  auto options = quiet(2);
  options.log_every_n_steps(2);
  options.plugins().push_back(PluginSpec::parse("lr_scheduler:schedule=exponential,gamma=0.5,interval=step"));
  options.plugins().push_back(plugins::LRMonitorOptions().logging_interval("step").spec());
  Trainer trainer(options);
  auto& recorder =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train);
  std::vector<std::pair<int64_t, double>> rates;
  for (const auto& [step, row] : recorder.rows) {
    if (row.count("lr-SGD")) rates.emplace_back(step, row.at("lr-SGD"));
  }
  // Logged before the steps 1, 3, 5, 7 (0-based), when 1, 3, 5, 7 scheduler steps have run.
  ASSERT_EQ(rates.size(), 4u);
  for (std::size_t i = 0; i < rates.size(); ++i) {
    const int64_t step = 2 * static_cast<int64_t>(i) + 1;
    EXPECT_EQ(rates[i].first, step);
    EXPECT_DOUBLE_EQ(rates[i].second, model.lr * std::pow(0.5, step));
  }
}

TEST(LRMonitor, NamesParamGroupsAndNeedsALogger) {
  struct TwoGroups : testing::TinyClassifier {
    OptimizerConfig configure_optimizers() override {
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(std::vector<torch::Tensor>{linear->weight},
                          std::make_unique<torch::optim::AdamOptions>(0.01));
      groups.emplace_back(std::vector<torch::Tensor>{linear->bias}, std::make_unique<torch::optim::AdamOptions>(0.02));
      return std::make_shared<torch::optim::Adam>(groups);
    }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  TwoGroups model;
  auto options = quiet(1);
  options.plugins().push_back(PluginSpec::parse("lr_monitor:logging_interval=epoch"));
  Trainer trainer(options);
  auto& recorder =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train);
  ASSERT_FALSE(recorder.rows.empty());
  EXPECT_DOUBLE_EQ(recorder.rows[0].second.at("lr-Adam/pg1"), 0.01);
  EXPECT_DOUBLE_EQ(recorder.rows[0].second.at("lr-Adam/pg2"), 0.02);

  Trainer alone(options);
  TwoGroups other;
  EXPECT_NE(testing::error_of([&] { alone.fit(other, train); }).find("the Trainer has none"), std::string::npos);
}

TEST(LRMonitor, LogsMomentumAndWeightDecayAsLightningNamesThem) {
  struct TwoOptimizers : testing::TinyClassifier {
    OptimizerConfig configure_optimizers() override {
      auto sgd = std::make_shared<torch::optim::SGD>(std::vector<torch::Tensor>{linear->weight},
                                                     torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
      auto adam = std::make_shared<torch::optim::Adam>(
          std::vector<torch::Tensor>{linear->bias},
          torch::optim::AdamOptions(0.01).betas(std::make_tuple(0.8, 0.99)).weight_decay(0.05));
      return std::vector<std::shared_ptr<torch::optim::Optimizer>>{sgd, adam};
    }
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      // Two optimizers: manual optimization, as in Lightning.
      auto loss = testing::TinyClassifier::training_step(batch, batch_idx);
      for (auto& optimizer : optimizers()) optimizer.zero_grad();
      manual_backward(loss);
      for (auto& optimizer : optimizers()) optimizer.step();
      return loss;
    }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  TwoOptimizers model;
  model.set_automatic_optimization(false);
  auto options = quiet(1);
  options.plugins().push_back(
      plugins::LRMonitorOptions().logging_interval("epoch").log_momentum(true).log_weight_decay(true).spec());
  Trainer trainer(options);
  auto& recorder =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train);
  ASSERT_FALSE(recorder.rows.empty());
  const auto& row = recorder.rows[0].second;
  EXPECT_DOUBLE_EQ(row.at("lr-SGD"), 0.1);
  EXPECT_DOUBLE_EQ(row.at("lr-SGD-momentum"), 0.9);  // SGD's momentum
  EXPECT_DOUBLE_EQ(row.at("lr-SGD-weight_decay"), 1e-4);
  EXPECT_DOUBLE_EQ(row.at("lr-Adam-momentum"), 0.8);  // Adam's beta1
  EXPECT_DOUBLE_EQ(row.at("lr-Adam-weight_decay"), 0.05);
  // Off by default: only the rates.
  TwoOptimizers plain;
  plain.set_automatic_optimization(false);
  auto defaults = quiet(1);
  defaults.plugins().push_back(PluginSpec::parse("lr_monitor:logging_interval=epoch"));
  Trainer other(defaults);
  auto& rows = static_cast<testing::RecordingLogger&>(other.add_plugin(std::make_unique<testing::RecordingLogger>()));
  other.fit(plain, train);
  EXPECT_EQ(rows.rows[0].second.count("lr-SGD-momentum"), 0u);
}

}  // namespace
}  // namespace fulgur
