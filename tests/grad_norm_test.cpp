// grad_norm: Lightning's names and values on real gradients, and logged from a Module's hook.
#include <gtest/gtest.h>

#include <limits>

#include "fulgur/grad_norm.h"
#include "testing.h"

namespace fulgur {
namespace {

TEST(GradNorm, NormsOfEachGradientAndOfAllTogether) {
  torch::nn::Linear linear(3, 2);
  linear->weight.mutable_grad() = torch::tensor({{3.0, 0.0, 0.0}, {0.0, 4.0, 0.0}});
  linear->bias.mutable_grad() = torch::tensor({0.0, 12.0});
  const auto norms = grad_norm(*linear, 2.0);
  ASSERT_EQ(norms.size(), 3u);
  EXPECT_NEAR(norms.at("grad_2.0_norm/weight").item<double>(), 5.0, 1e-6);
  EXPECT_NEAR(norms.at("grad_2.0_norm/bias").item<double>(), 12.0, 1e-6);
  EXPECT_NEAR(norms.at("grad_2.0_norm_total").item<double>(), 13.0, 1e-6);  // as one vector (3, 4, 12)
  const auto largest = grad_norm(*linear, std::numeric_limits<double>::infinity(), ".");
  EXPECT_NEAR(largest.at("grad_inf_norm_total").item<double>(), 12.0, 1e-6);
  EXPECT_TRUE(largest.count("grad_inf_norm.weight"));
  EXPECT_NEAR(grad_norm(*linear, 1.5).at("grad_1.5_norm/weight").item<double>(),
              std::pow(std::pow(3.0, 1.5) + 8.0, 1 / 1.5), 1e-5);
}

TEST(GradNorm, NoGradientsNoNormsAndABadNormTypeIsNamed) {
  torch::nn::Linear linear(3, 2);
  EXPECT_TRUE(grad_norm(*linear, 2.0).empty());
  const auto error = testing::error_of([&] { grad_norm(*linear, 0.0); });
  EXPECT_NE(error.find("norm_type must be a positive number"), std::string::npos) << error;
}

TEST(GradNorm, LoggedFromOnBeforeOptimizerStep) {
  struct Net : testing::TinyClassifier {
    void on_before_optimizer_step(torch::optim::Optimizer&) override { log_dict(grad_norm(*this, 2.0)); }
  };
  auto loader = testing::make_loader(testing::make_blobs(16), 8);
  Net net;
  Trainer trainer(testing::quiet_options(1));
  trainer.fit(net, loader);
  const auto total = trainer.metrics().value("grad_2.0_norm_total");
  ASSERT_TRUE(total.has_value());
  const double weight = *trainer.metrics().value("grad_2.0_norm/linear.weight");
  const double bias = *trainer.metrics().value("grad_2.0_norm/linear.bias");
  EXPECT_NEAR(*total, std::sqrt(weight * weight + bias * bias), 1e-5);
}

}  // namespace
}  // namespace fulgur
