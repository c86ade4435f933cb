// The batch-size finder on real fits: power and binsearch against a memory budget, the size left
// where the data hooks read it, the weights put back, and the errors.
#include <gtest/gtest.h>

#include "fulgur/data.h"
#include "fulgur/tuner.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

// A wide hidden layer: each sample keeps 8 KiB of activations (the ReLU output) until backward.
class Wide : public Module {
 public:
  Wide() {
    hidden = register_module("hidden", torch::nn::Linear(16, 2048));
    out = register_module("out", torch::nn::Linear(2048, 2));
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(out(torch::relu(hidden(batch[0]))), batch[1]);
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
  torch::nn::Linear hidden{nullptr}, out{nullptr};
};

class Data : public DataModule {
 public:
  explicit Data(int64_t samples) : data_(testing::make_blobs(samples, 16, 4)) {}
  DataLoaders train_dataloader() override {
    ++loads;
    return std::make_unique<TensorDataLoader>(testing::make_loader(data_, batch_size));
  }
  int64_t batch_size = 32;
  int64_t loads = 0;

 private:
  testing::Blobs data_;
};

TEST(BatchSizeFinder, PowerDoublesUntilTheBudgetIsExceededAndLeavesTheLastThatFitted) {
  Data data(4096);
  Wide model;
  const auto before = testing::flat_parameters(model).clone();
  Tuner tuner(testing::quiet_options(1));
  const auto found = tuner.scale_batch_size(model, data, data.batch_size, BatchSizeFindOptions().max_memory_mb(6));

  EXPECT_EQ(data.batch_size, found.batch_size);
  ASSERT_GE(found.trials.size(), 3u);
  // 2, 4, 8, ... fit; the first that does not ends the search, one below it is the answer.
  for (std::size_t i = 0; i + 1 < found.trials.size(); ++i) {
    EXPECT_EQ(found.trials[i].first, int64_t{2} << i);
    EXPECT_TRUE(found.trials[i].second);
  }
  EXPECT_FALSE(found.trials.back().second);
  EXPECT_EQ(found.batch_size * 2, found.trials.back().first);
  // 8 KiB per sample in a 6 MiB budget: 512 fits (4 MiB), 1024 (8 MiB) does not.
  EXPECT_EQ(found.batch_size, 512);
  EXPECT_EQ(data.loads, static_cast<int64_t>(found.trials.size()));  // new loaders for every trial
  EXPECT_TRUE(testing::flat_parameters(model).equal(before));

  // binsearch refines between the last size that fitted and the first that did not.
  Data again(4096);
  const auto refined = tuner.scale_batch_size(model, again, again.batch_size,
                                              BatchSizeFindOptions().mode("binsearch").max_memory_mb(6).margin(0));
  EXPECT_GE(refined.batch_size, found.batch_size);
  EXPECT_LT(refined.batch_size, 2 * found.batch_size);
  for (const auto& [size, fitted] : refined.trials) {
    if (fitted) EXPECT_LE(size, refined.batch_size);
    if (!fitted) EXPECT_GT(size, refined.batch_size);
  }
  Data margin(4096);
  const auto with_margin = tuner.scale_batch_size(model, margin, margin.batch_size,
                                                  BatchSizeFindOptions().mode("binsearch").max_memory_mb(6));
  EXPECT_EQ(with_margin.batch_size, static_cast<int64_t>(refined.batch_size * 0.95));
}

TEST(BatchSizeFinder, StopsGrowingOnceOneBatchHoldsAllTheData) {
  Data data(100);
  Wide model;
  Tuner tuner(testing::quiet_options(1));
  const auto found = tuner.scale_batch_size(model, data, data.batch_size);
  EXPECT_EQ(found.batch_size, 128);  // 2 ... 128; 128 already holds the 100 samples
  EXPECT_EQ(found.trials.size(), 7u);
}

TEST(BatchSizeFinder, AFirstSizeThatAlreadyFailsIsNamed) {
  Data data(4096);
  Wide model;
  Tuner tuner(testing::quiet_options(1));
  const std::string error = error_of([&] {
    tuner.scale_batch_size(model, data, data.batch_size, BatchSizeFindOptions().init_val(2048).max_memory_mb(1));
  });
  EXPECT_NE(error.find("the first batch size (2048) already runs out of memory"), std::string::npos) << error;
  EXPECT_NE(error_of([&] {
              tuner.scale_batch_size(model, data, data.batch_size, BatchSizeFindOptions().mode("linear"));
            }).find("power or binsearch"),
            std::string::npos);
}

}  // namespace
}  // namespace fulgur
