// single_device: named, it is the run's strategy, and the run is the one without it.
#include <gtest/gtest.h>

#include "fulgur/strategy.h"
#include "fulgur/strategies/single_device.h"
#include "testing.h"

namespace fulgur {
namespace {

torch::Tensor train(const std::string& strategy) {
  auto data = testing::make_blobs(32);
  auto loader = testing::make_loader(data, 8, /*shuffle=*/true);
  torch::manual_seed(2);
  testing::TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(2);
  options.strategy(strategy);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  Trainer trainer(options);
  EXPECT_EQ(trainer.strategy() != nullptr, strategy == "single_device");
  trainer.fit(model, loader);
  EXPECT_EQ(trainer.world_size(), 1);
  EXPECT_TRUE(trainer.is_global_zero());
  return testing::flat_parameters(model);
}

TEST(SingleDevice, IsTheRunWithoutAStrategy) {
  EXPECT_TRUE(torch::equal(train("single_device"), train("auto")));
  TrainerOptions options;
  options.strategy("single_device");
  options.devices(2);
  EXPECT_NE(testing::error_of([&] { Trainer trainer(options); }).find("Trainer option devices"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
