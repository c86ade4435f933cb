// amp on the CPU: the loss scaler's arithmetic, bf16 autocast around the steps only, skipped
// steps on overflow, 64-true, checkpointed scaler state, and the error for 16-mixed on a CPU.
#include <gtest/gtest.h>

#include "fulgur/compat.h"
#include "fulgur/plugins/amp.h"
#include "testing.h"

namespace fulgur {
namespace {

using plugins::AmpInfo;
using plugins::AmpOptions;
using plugins::GradScaler;

AmpOptions scaler_options(double init_scale, int64_t growth_interval) {
  AmpOptions options;
  options.precision("16-mixed");
  options.init_scale(init_scale);
  options.growth_interval(growth_interval);
  return options;
}

double scale_of(const GradScaler& scaler) { return scaler.scale_tensor().item<double>(); }

TEST(GradScaler, ScalesTheLossAndUnscalesGradients) {
  GradScaler scaler(scaler_options(1024.0, 3), torch::kCPU);
  const auto loss = torch::tensor(0.5f);
  EXPECT_FLOAT_EQ(scaler.scale(loss).item<float>(), 512.0f);
  std::vector<torch::Tensor> grads{torch::full({3}, 2048.0f), torch::full({2, 2}, -1024.0f)};
  const auto found = scaler.unscale_(grads);
  EXPECT_EQ(found.item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(grads[0], torch::full({3}, 2.0f)));
  EXPECT_TRUE(torch::equal(grads[1], torch::full({2, 2}, -1.0f)));
}

TEST(GradScaler, FindsInfAndNaNAndBacksOff) {
  GradScaler scaler(scaler_options(1024.0, 3), torch::kCPU);
  for (float bad : {std::numeric_limits<float>::infinity(), std::nanf("")}) {
    std::vector<torch::Tensor> grads{torch::ones({3}), torch::tensor({1.0f, bad})};
    EXPECT_EQ(scaler.unscale_(grads).item<float>(), 1.0f);
  }
  std::vector<torch::Tensor> grads{torch::ones({3}), torch::tensor({1.0f, std::numeric_limits<float>::infinity()})};
  scaler.update(scaler.unscale_(grads));
  EXPECT_EQ(scale_of(scaler), 512.0);
  EXPECT_EQ(scaler.growth_tracker().item<int>(), 0);
}

TEST(GradScaler, GrowsAfterGrowthIntervalCleanStepsAndNeverToInfinity) {
  GradScaler scaler(scaler_options(8.0, 3), torch::kCPU);
  const auto clean = torch::zeros({1});
  const auto overflow = torch::ones({1});
  // clean, clean, overflow (resets the count), clean x3 -> grow once.
  std::vector<std::pair<torch::Tensor, double>> script{{clean, 8}, {clean, 8}, {overflow, 4},
                                                       {clean, 4}, {clean, 4}, {clean, 8}};
  for (const auto& [found, expected] : script) {
    scaler.update(found);
    EXPECT_EQ(scale_of(scaler), expected);
  }
  GradScaler huge(scaler_options(3e38, 1), torch::kCPU);
  huge.update(clean);
  EXPECT_FLOAT_EQ(static_cast<float>(scale_of(huge)), 3e38f);
}

TrainerOptions quiet() {
  TrainerOptions options;
  options.max_epochs(1);
  options.accelerator("cpu");
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  return options;
}

// Records whether autocast is on and what dtype the layer computes in, inside each step.
class AutocastProbe : public testing::TinyClassifier {
 public:
  std::vector<bool> autocast_in_training, autocast_in_validation;
  std::vector<torch::ScalarType> training_dtypes;
  bool autocast_in_backward_hook = true;
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    autocast_in_training.push_back(compat::autocast_enabled(c10::DeviceType::CPU));
    training_dtypes.push_back(forward(batch[0]).scalar_type());
    return TinyClassifier::training_step(batch, batch_idx);
  }
  torch::Tensor validation_step(const Batch& batch, int64_t batch_idx) override {
    autocast_in_validation.push_back(compat::autocast_enabled(c10::DeviceType::CPU));
    return TinyClassifier::validation_step(batch, batch_idx);
  }
  void on_after_backward() override { autocast_in_backward_hook = compat::autocast_enabled(c10::DeviceType::CPU); }
};

TEST(Amp, Bf16MixedAutocastsTheStepsOnlyAndTrains) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 16);
  auto val = testing::make_loader(data, 16);
  AutocastProbe model;
  auto options = quiet();
  options.max_epochs(20);
  options.precision("bf16-mixed");
  Trainer trainer(options);
  trainer.fit(model, train, val);
  ASSERT_FALSE(model.autocast_in_training.empty());
  for (bool on : model.autocast_in_training) EXPECT_TRUE(on);
  for (bool on : model.autocast_in_validation) EXPECT_TRUE(on);
  for (auto dtype : model.training_dtypes) EXPECT_EQ(dtype, torch::kBFloat16);
  EXPECT_FALSE(model.autocast_in_backward_hook);
  EXPECT_FALSE(compat::autocast_enabled(c10::DeviceType::CPU));  // off again once fit is over
  EXPECT_EQ(model.linear->weight.scalar_type(), torch::kFloat);  // master weights stay fp32
  const auto results = trainer.test(model, val);
  EXPECT_GE(results.at("test_acc"), 0.95);
  EXPECT_EQ(dynamic_cast<AmpInfo&>(*trainer.find_plugin("amp")).loss_scale(), std::nullopt);
}

// Makes the loss of one batch infinite: its gradients overflow.
class OverflowAt : public testing::TinyClassifier {
 public:
  int64_t bad_batch = 2;
  std::vector<torch::Tensor> before, after;
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    before.push_back(testing::flat_parameters(*this).clone());
    auto loss = TinyClassifier::training_step(batch, batch_idx);
    const bool overflow = trainer().current_epoch() == 0 && batch_idx == bad_batch;
    return overflow ? loss * std::numeric_limits<float>::infinity() : loss;
  }
  void on_train_epoch_end() override {}
};

TEST(Amp, LossScalingSkipsTheOverflowingStepAndBacksOff) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 16);  // 4 batches
  OverflowAt model;
  auto options = quiet();
  options.plugins().push_back(
      PluginSpec::parse("amp:precision=bf16-mixed,loss_scaling=true,init_scale=1024,growth_interval=100"));
  Trainer trainer(options);
  trainer.fit(model, train);
  const auto final_weights = testing::flat_parameters(model);
  auto& amp = dynamic_cast<AmpInfo&>(*trainer.find_plugin("amp"));
  EXPECT_EQ(amp.skipped_steps(), 1);
  EXPECT_EQ(*amp.loss_scale(), 512.0);
  ASSERT_EQ(model.before.size(), 4u);
  EXPECT_FALSE(torch::equal(model.before[1], model.before[2]));  // a normal step moved the weights
  EXPECT_TRUE(torch::equal(model.before[2], model.before[3]));   // the overflowing step did not
  EXPECT_TRUE(torch::isfinite(final_weights).all().item<bool>());
  EXPECT_EQ(trainer.global_step(), 4);  // a skipped step still counts, as in Lightning
}

TEST(Amp, ScaledGradientsAreUnscaledBeforeTheStep) {
  // The same seed, data and SGD with and without loss scaling: the same weights, because the
  // optimizer sees unscaled gradients (a power-of-two scale is exact in float).
  auto weights = [](bool scaling) {
    auto data = testing::make_blobs(32);
    auto train = testing::make_loader(data, 8);
    torch::manual_seed(5);
    testing::TinyClassifier model;
    auto options = quiet();
    options.plugins().push_back(PluginSpec::parse(
        std::string("amp:precision=bf16-mixed,init_scale=4096,loss_scaling=") + (scaling ? "true" : "false")));
    Trainer trainer(options);
    trainer.fit(model, train);
    return testing::flat_parameters(model);
  };
  EXPECT_TRUE(torch::allclose(weights(true), weights(false), 1e-6, 1e-7));
}

TEST(Amp, ScalerStateTravelsInTheCheckpoint) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 16);
  OverflowAt model;
  auto options = quiet();
  options.plugins().push_back(PluginSpec::parse("amp:precision=bf16-mixed,loss_scaling=true,init_scale=1024"));
  Trainer trainer(options);
  trainer.fit(model, train);
  const std::string path = testing::temp_dir("amp_ckpt") + "/amp.ckpt";
  trainer.save_checkpoint(path);
  const auto checkpoint = read_checkpoint(path);
  ASSERT_TRUE(has_plugin_state(checkpoint, "amp"));

  OverflowAt resumed_model;
  resumed_model.bad_batch = -1;
  auto more = options;
  more.max_epochs(1);  // the checkpoint is at the end of epoch 0: nothing left to train
  Trainer resumed(more);
  resumed.fit(resumed_model, train, nullptr, path);
  EXPECT_EQ(*dynamic_cast<AmpInfo&>(*resumed.find_plugin("amp")).loss_scale(), 512.0);
  EXPECT_EQ(dynamic_cast<AmpInfo&>(*resumed.find_plugin("amp")).skipped_steps(), 1);
}

TEST(Amp, DoublePrecisionConvertsModuleAndBatches) {
  struct DtypeProbe : testing::TinyClassifier {
    std::vector<torch::ScalarType> data_dtypes;
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      data_dtypes.push_back(batch[0].scalar_type());
      return TinyClassifier::training_step(batch, batch_idx);
    }
  };
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 8);
  DtypeProbe model;
  auto options = quiet();
  options.precision("64-true");
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_EQ(model.linear->weight.scalar_type(), torch::kDouble);
  ASSERT_FALSE(model.data_dtypes.empty());
  for (auto dtype : model.data_dtypes) EXPECT_EQ(dtype, torch::kDouble);
}

TEST(Amp, SixteenMixedOnTheCpuIsAClearError) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  auto options = quiet();
  options.precision("16");  // Lightning's old spelling of 16-mixed
  Trainer trainer(options);
  const auto message = testing::error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(message.find("precision '16-mixed' needs a CUDA device"), std::string::npos) << message;
  EXPECT_NE(message.find("bf16-mixed"), std::string::npos);
  EXPECT_FALSE(compat::autocast_enabled(c10::DeviceType::CPU));
}

TEST(Amp, BadPrecisionIsNamed) {
  auto options = quiet();
  options.precision("8-mixed");
  const auto message = testing::error_of([&] { Trainer trainer(options); });
  EXPECT_NE(message.find("Trainer option precision"), std::string::npos) << message;
}

// --- CUDA (run where a GPU is present; skipped on CPU-only machines) --------------------------

TEST(AmpCuda, FusedScalerOpsAgreeWithThePlainOnes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  GradScaler on_gpu(scaler_options(1024.0, 2), torch::Device(torch::kCUDA, 0));
  GradScaler on_cpu(scaler_options(1024.0, 2), torch::kCPU);
  const float inf = std::numeric_limits<float>::infinity();
  for (float bad : {1.0f, inf, 1.0f, 1.0f, std::nanf(""), 1.0f, 1.0f}) {
    std::vector<torch::Tensor> cpu_grads{torch::full({5}, 512.0f), torch::tensor({256.0f, bad})};
    std::vector<torch::Tensor> gpu_grads;
    for (const auto& grad : cpu_grads) gpu_grads.push_back(grad.cuda());
    const auto found_gpu = on_gpu.unscale_(gpu_grads);
    const auto found_cpu = on_cpu.unscale_(cpu_grads);
    EXPECT_EQ(found_gpu.item<float>(), found_cpu.item<float>());
    if (std::isfinite(bad)) EXPECT_TRUE(torch::equal(gpu_grads[0].cpu(), cpu_grads[0]));
    on_gpu.update(found_gpu);
    on_cpu.update(found_cpu);
    EXPECT_EQ(scale_of(on_gpu), scale_of(on_cpu));
    EXPECT_EQ(on_gpu.growth_tracker().item<int>(), on_cpu.growth_tracker().item<int>());
  }
}

class CudaProbe : public OverflowAt {
 public:
  std::vector<torch::ScalarType> dtypes;
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    dtypes.push_back(forward(batch[0]).scalar_type());
    return OverflowAt::training_step(batch, batch_idx);
  }
};

void train_on_cuda(const std::string& precision, torch::ScalarType expected_dtype) {
  auto data = testing::make_blobs(256);
  auto train = testing::make_loader(data, 32, /*shuffle=*/true);
  auto val = testing::make_loader(data, 64);
  CudaProbe model;
  model.bad_batch = 3;  // one overflowing step in the first epoch
  auto options = quiet();
  options.accelerator("cuda");
  options.max_epochs(10);
  options.plugins().push_back(PluginSpec::parse("amp:precision=" + precision + ",loss_scaling=true,init_scale=65536"));
  Trainer trainer(options);
  trainer.fit(model, train, val);
  for (auto dtype : model.dtypes) ASSERT_EQ(dtype, expected_dtype);
  auto& amp = dynamic_cast<AmpInfo&>(*trainer.find_plugin("amp"));
  EXPECT_EQ(amp.skipped_steps(), 1);
  EXPECT_TRUE(torch::equal(model.before[3], model.before[4]));  // the overflowing step changed nothing
  EXPECT_EQ(model.linear->weight.device().type(), torch::kCUDA);
  EXPECT_GE(trainer.test(model, val).at("test_acc"), 0.95);
  std::printf("%s on CUDA: loss scale %.0f after %lld steps, %lld skipped\n", precision.c_str(), *amp.loss_scale(),
              static_cast<long long>(trainer.global_step()), static_cast<long long>(amp.skipped_steps()));
}

TEST(AmpCuda, SixteenMixedTrainsAndSkipsTheOverflowingStep) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  train_on_cuda("16-mixed", torch::kHalf);
}

TEST(AmpCuda, Bf16MixedTrains) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  train_on_cuda("bf16-mixed", torch::kBFloat16);
}

}  // namespace
}  // namespace fulgur
