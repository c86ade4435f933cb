// cuda_graph: the static batch a graph reads (CPU), the plugin's refusals, and — on a CUDA
// device — replayed runs that end where eager runs end, and the steps a graph cannot replay.
#include <gtest/gtest.h>

#include <torch/cuda.h>

#include "fulgur/plugins/cuda_graph.h"
#include "static_batch.h"
#include "testing.h"

namespace fulgur {
namespace {

using plugins::CudaGraphOptions;
using plugins::cuda_graph::StaticBatch;
using testing::error_of;

TEST(StaticBatch, CopiesEachBatchIntoTensorsOfItsOwn) {
  const auto x = torch::arange(8, torch::kFloat).reshape({4, 2});
  const auto y = torch::tensor({0, 1, 1, 0});
  Batch first = Batch::dict({{"x", x}, {"rest", Batch::list({y, Batch(int64_t{3})})}});
  StaticBatch captured(first);
  EXPECT_TRUE(captured.inputs()["x"].equal(x));
  EXPECT_NE(captured.inputs()["x"].data_ptr(), x.data_ptr());  // a copy: the loader's tensors stay the loader's

  const auto x2 = x * 10;
  const auto y2 = 1 - y;
  Batch second = Batch::dict({{"x", x2}, {"rest", Batch::list({y2, Batch(int64_t{3})})}});
  ASSERT_EQ(captured.mismatch(second), "");
  const void* address = captured.inputs()["x"].data_ptr();
  captured.copy_from(second);
  EXPECT_EQ(captured.inputs()["x"].data_ptr(), address);  // the graph's address is kept
  EXPECT_TRUE(captured.inputs()["x"].equal(x2));
  EXPECT_TRUE(captured.inputs().at("rest")[0].equal(y2));
  EXPECT_TRUE(x.equal(torch::arange(8, torch::kFloat).reshape({4, 2})));  // the first batch is untouched
}

TEST(StaticBatch, NamesTheFirstDifference) {
  const auto x = torch::zeros({8, 4});
  StaticBatch captured(Batch::list({x, torch::zeros({8}, torch::kLong), Batch(std::string("a.png"))}));
  EXPECT_EQ(captured.mismatch(Batch::list({torch::zeros({3, 4}), torch::zeros({3}, torch::kLong), Batch("a.png")})),
            "batch[0] is tensor[3, 4] Float on cpu, the captured one tensor[8, 4] Float on cpu");
  EXPECT_EQ(captured.mismatch(Batch::list({x, torch::zeros({8}, torch::kInt), Batch("a.png")})),
            "batch[1] is tensor[8] Int on cpu, the captured one tensor[8] Long on cpu");
  EXPECT_EQ(captured.mismatch(Batch::list({x, torch::zeros({8}, torch::kLong), Batch("b.png")})),
            "batch[2] is the string 'b.png', the captured one the string 'a.png'");
  EXPECT_NE(captured.mismatch(Batch::list({x, torch::zeros({8}, torch::kLong)})).find("a list of 2"),
            std::string::npos);
  EXPECT_NE(captured.mismatch(Batch(x)).find("batch is tensor[8, 4]"), std::string::npos);
}

TEST(StaticBatch, FindsATensorOffTheDevice) {
  const auto x = torch::zeros({2, 2});
  EXPECT_EQ(plugins::cuda_graph::first_tensor_off(Batch::list({x, x}), c10::DeviceType::CPU), "");
  EXPECT_EQ(plugins::cuda_graph::first_tensor_off(Batch::dict({{"n", Batch(int64_t{2})}, {"mask", x}}),
                                                  c10::DeviceType::CUDA),
            "batch[\"mask\"] on cpu");
}

TEST(CudaGraph, RejectsBadOptions) {
  Trainer trainer(testing::quiet_options());
  CudaGraphOptions none_warm;
  none_warm.warmup_steps(0);
  EXPECT_NE(error_of([&] { trainer.add_plugin(none_warm.spec()); }).find("'warmup_steps' must be at least 1"),
            std::string::npos);
  CudaGraphOptions keep;
  keep.last_batch("keep");
  EXPECT_NE(error_of([&] { trainer.add_plugin(keep.spec()); }).find("'last_batch' must be 'eager' or 'drop'"),
            std::string::npos);
}

TEST(CudaGraph, RefusesARunOffTheGpu) {
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 8);
  auto options = testing::quiet_options();
  options.accelerator("cpu");
  Trainer trainer(options);
  trainer.add_plugin(CudaGraphOptions{}.spec());
  testing::TinyClassifier model;
  const auto before = testing::flat_parameters(model).clone();
  const std::string error = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(error.find("plugin 'cuda_graph': the run is on cpu"), std::string::npos) << error;
  EXPECT_TRUE(testing::flat_parameters(model).equal(before));  // refused before any step
}

// --- on a CUDA device ---------------------------------------------------------------------------

// A small MLP trained with SGD and momentum; logs its loss per step and per epoch. `sync_at`
// makes training_step read a value on the host at that batch (the first captured is batch 3); `halve_lr_each_epoch` plays a
// per-epoch scheduler; `adam` configures Adam instead.
class Mlp : public Module {
 public:
  Mlp() {
    net = register_module("net",
                          torch::nn::Sequential(torch::nn::Linear(4, 32), torch::nn::ReLU(), torch::nn::Linear(32, 2)));
  }
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    auto loss = torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
    if (batch_idx == sync_at) std::printf("loss %f\n", loss.item<double>());
    log("train_loss", loss, LogOptions().on_epoch(true));
    return loss;
  }
  OptimizerConfig configure_optimizers() override {
    if (adam) return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-2));
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  }
  void on_train_epoch_start() override {
    if (!halve_lr_each_epoch || trainer().current_epoch() == 0) return;
    for (auto& group : trainer().optimizers().front()->param_groups()) {
      auto& sgd = static_cast<torch::optim::SGDOptions&>(group.options());
      sgd.lr(sgd.lr() / 2);
    }
  }
  torch::nn::Sequential net{nullptr};
  int64_t sync_at = -1;
  bool halve_lr_each_epoch = false;
  bool adam = false;
};

struct GpuRun {
  torch::Tensor weights;
  int64_t global_step = 0;
  double epoch_loss = 0;
};

// 70 samples in batches of 8: eight full batches and a last one of 6, each epoch.
GpuRun fit_on_gpu(bool graphed, int64_t epochs, std::function<void(TrainerOptions&, Mlp&)> adjust = {},
                  CudaGraphOptions plugin = {}) {
  auto data = testing::make_blobs(70);
  auto train = testing::make_loader(data, 8);
  auto options = testing::quiet_options(epochs);
  options.accelerator("cuda");
  torch::manual_seed(3);
  Mlp model;
  if (adjust) adjust(options, model);
  Trainer trainer(options);
  if (graphed) trainer.add_plugin(plugin.spec());
  trainer.fit(model, train);
  return {testing::flat_parameters(model).cpu().clone(), trainer.global_step(),
          trainer.metrics().value("train_loss_epoch").value_or(-1)};
}

#define REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: CUDA graphs run on one"

TEST(CudaGraphGpu, ReplayedStepsEndWhereEagerStepsEnd) {
  REQUIRE_CUDA();
  const GpuRun eager = fit_on_gpu(false, 3);
  const GpuRun graphed = fit_on_gpu(true, 3);
  EXPECT_EQ(graphed.global_step, eager.global_step);
  EXPECT_TRUE(torch::allclose(graphed.weights, eager.weights, 1e-5, 1e-6));
  // The epoch mean includes the values logged by the replays.
  EXPECT_NEAR(graphed.epoch_loss, eager.epoch_loss, 1e-5);

  // Dropping the smaller last batch is the eager run of a loader that drops it.
  CudaGraphOptions drop;
  drop.last_batch("drop");
  const GpuRun dropped = fit_on_gpu(true, 3, {}, drop);
  EXPECT_EQ(dropped.global_step, 3 * 8);
}

TEST(CudaGraphGpu, AccumulationWindowsReplayOneGraphPerKindOfMicroBatch) {
  REQUIRE_CUDA();
  const auto accumulate = [](TrainerOptions& options, Mlp&) { options.accumulate_grad_batches() = 3; };
  const GpuRun eager = fit_on_gpu(false, 2, accumulate);
  const GpuRun graphed = fit_on_gpu(true, 2, accumulate);
  EXPECT_EQ(graphed.global_step, eager.global_step);
  EXPECT_TRUE(torch::allclose(graphed.weights, eager.weights, 1e-5, 1e-6));
}

TEST(CudaGraphGpu, ALearningRateChangeIsCapturedAgain) {
  REQUIRE_CUDA();
  const auto halve = [](TrainerOptions&, Mlp& model) { model.halve_lr_each_epoch = true; };
  const GpuRun eager = fit_on_gpu(false, 3, halve);
  const GpuRun graphed = fit_on_gpu(true, 3, halve);
  EXPECT_TRUE(torch::allclose(graphed.weights, eager.weights, 1e-5, 1e-6));
}

TEST(CudaGraphGpu, AResumedFitEndsWhereTheUninterruptedOneEnds) {
  REQUIRE_CUDA();
  const GpuRun straight = fit_on_gpu(true, 3);
  const auto path = testing::temp_dir("cuda_graph_resume") + "/two_epochs.ckpt";
  auto data = testing::make_blobs(70);
  auto train = testing::make_loader(data, 8);
  auto options = testing::quiet_options(2);
  options.accelerator("cuda");
  torch::manual_seed(3);
  Mlp model;
  {
    Trainer first(options);
    first.add_plugin(CudaGraphOptions{}.spec());
    first.fit(model, train);
    first.save_checkpoint(path);
  }
  options.max_epochs(3);
  Trainer resumed(options);
  resumed.add_plugin(CudaGraphOptions{}.spec());
  resumed.fit(model, train, {}, path);  // warms up and captures again on the restored tensors
  EXPECT_EQ(resumed.global_step(), straight.global_step);
  EXPECT_TRUE(torch::allclose(testing::flat_parameters(model).cpu(), straight.weights, 1e-5, 1e-6));
}

TEST(CudaGraphGpu, RefusesWhatAReplayCannotDo) {
  REQUIRE_CUDA();
  std::string error = error_of([] { fit_on_gpu(true, 1, [](TrainerOptions&, Mlp& model) { model.sync_at = 3; }); });
  EXPECT_NE(error.find("could not be captured at batch 3"), std::string::npos) << error;
  error = error_of([] { fit_on_gpu(true, 1, [](TrainerOptions&, Mlp& model) { model.adam = true; }); });
  EXPECT_NE(error.find("Adam and AdamW compute their bias corrections on the host"), std::string::npos) << error;
  error =
      error_of([] { fit_on_gpu(true, 1, [](TrainerOptions& options, Mlp&) { options.precision() = "16-mixed"; }); });
  EXPECT_NE(error.find("'16-mixed' decides on the host"), std::string::npos) << error;
}

// A loader whose fifth batch is smaller: not the epoch's last, so the graph cannot take it.
class ShrinksBatchFive : public Mlp {
 public:
  Batch on_before_batch_transfer(Batch batch, int64_t) override {
    if (seen_++ != 5) return batch;
    return Batch::list({batch[0].narrow(0, 0, 4), batch[1].narrow(0, 0, 4)});
  }
  int64_t seen_ = 0;
};

TEST(CudaGraphGpu, RefusesShapesThatChangeBeforeTheEpochsLastBatch) {
  REQUIRE_CUDA();
  auto data = testing::make_blobs(70);
  auto train = testing::make_loader(data, 8);
  auto options = testing::quiet_options();
  options.accelerator("cuda");
  ShrinksBatchFive model;
  Trainer trainer(options);
  trainer.add_plugin(CudaGraphOptions{}.spec());
  const std::string error = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(error.find("batch[0] is tensor[4, 4] Float on cuda:0, the captured one tensor[8, 4] Float on cuda:0 at "
                       "batch 5, which is not the epoch's last"),
            std::string::npos)
      << error;
}

}  // namespace
}  // namespace fulgur
