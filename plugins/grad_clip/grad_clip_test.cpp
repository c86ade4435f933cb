// grad_clip on real training steps: the same result as LibTorch's clip_grad_norm_, and bounded
// updates.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "fulgur/plugins/grad_clip.h"
#include "testing.h"

namespace fulgur {
namespace {

// Records the gradients the optimizer steps with (after clipping, which runs in group Gradients).
struct GradientSpy : Plugin {
  std::vector<torch::Tensor> seen;
  std::string name() const override { return "gradient_spy"; }
  void attach(HookBus& bus) override {
    connect(
        bus.on_before_optimizer_step,
        [this](OptimizerHook& hook) {
          seen.clear();
          for (auto& parameter : hook.optimizer.param_groups()[0].params()) seen.push_back(parameter.grad().clone());
        },
        SlotGroup::Monitor);
  }
};

TrainerOptions one_step() {
  TrainerOptions options;
  options.max_steps(1);
  options.accelerator("cpu");  // compared with LibTorch's clip_grad_norm_ on CPU copies
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  return options;
}

// The first step's gradients, clipped by LibTorch's clip_grad_norm_ (0 for no clipping); also
// returns their norm before clipping.
std::vector<torch::Tensor> reference_gradients(testing::TinyClassifier& model, const testing::Blobs& data,
                                               double max_norm, double* raw_norm, double norm_type = 2.0) {
  model.zero_grad();
  torch::nn::functional::cross_entropy(model.forward(data.x), data.y).backward();
  *raw_norm = torch::nn::utils::clip_grad_norm_(model.parameters(), max_norm, norm_type);
  std::vector<torch::Tensor> grads;
  for (auto& parameter : model.parameters()) grads.push_back(parameter.grad().clone());
  model.zero_grad();
  return grads;
}

TEST(GradClip, ByNormMatchesLibTorchsClipGradNorm) {
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 8);
  torch::manual_seed(0);
  testing::TinyClassifier model;
  double raw_norm = 0;
  const auto expected = reference_gradients(model, data, 0.05, &raw_norm);
  ASSERT_GT(raw_norm, 0.05);  // the clip must bite

  auto options = one_step();
  options.gradient_clip_val(0.05);
  Trainer trainer(options);
  auto& spy = static_cast<GradientSpy&>(trainer.add_plugin(std::make_unique<GradientSpy>()));
  trainer.fit(model, loader);
  ASSERT_EQ(spy.seen.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(torch::allclose(spy.seen[i], expected[i], 1e-5, 1e-7));
}

// The fused path (norms and scaling in _foreach_ launches) for p = 1 and 2, the per-tensor one
// for other p and infinity: all as LibTorch's clip_grad_norm_.
TEST(GradClip, EveryNormTypeMatchesLibTorchsClipGradNorm) {
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 8);
  for (const double p : {1.0, 2.0, 3.0, std::numeric_limits<double>::infinity()}) {
    torch::manual_seed(0);
    testing::TinyClassifier model;
    double raw_norm = 0;
    const auto expected = reference_gradients(model, data, 0.02, &raw_norm, p);
    ASSERT_GT(raw_norm, 0.02) << p;
    auto options = one_step();
    options.plugins().push_back(PluginSpec{
        "grad_clip", {{"gradient_clip_val", "0.02"}, {"norm_type", std::isinf(p) ? "inf" : std::to_string(p)}}});
    Trainer trainer(options);
    auto& spy = static_cast<GradientSpy&>(trainer.add_plugin(std::make_unique<GradientSpy>()));
    trainer.fit(model, loader);
    ASSERT_EQ(spy.seen.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(torch::allclose(spy.seen[i], expected[i], 1e-5, 1e-7)) << "norm_type " << p << ", tensor " << i;
    }
  }
}

TEST(GradClip, ByValueClampsEachElement) {
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  auto options = one_step();
  plugins::GradClipOptions clip;
  clip.gradient_clip_val(0.01);
  clip.gradient_clip_algorithm("value");
  options.plugins().push_back(clip.spec());
  Trainer trainer(options);
  auto& spy = static_cast<GradientSpy&>(trainer.add_plugin(std::make_unique<GradientSpy>()));
  trainer.fit(model, loader);
  for (const auto& grad : spy.seen) EXPECT_LE(grad.abs().max().item<double>(), 0.01 + 1e-9);
}

TEST(GradClip, BadOptionsNameTheOption) {
  auto message_for = [](const std::string& spec) {
    return testing::error_of([&] {
      TrainerOptions options;
      options.plugins().push_back(PluginSpec::parse(spec));
      Trainer trainer(options);
    });
  };
  EXPECT_NE(message_for("grad_clip:gradient_clip_algorithm=median").find("expects norm or value"), std::string::npos);
  EXPECT_NE(message_for("grad_clip:gradient_clip_val=-1").find("'gradient_clip_val' must be a positive number"),
            std::string::npos);
  TrainerOptions options;
  options.gradient_clip_val(1.0);
  options.gradient_clip_algorithm("median");
  EXPECT_NE(testing::error_of([&] { Trainer trainer(options); }).find("gradient_clip_algorithm"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
