// Bad input gets a clear error naming the problem, never a crash or a hang.
#include <gtest/gtest.h>

#include "fulgur/error.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::TinyClassifier;

using testing::error_of;

TrainerOptions one_epoch() {
  TrainerOptions options;
  options.max_epochs(1);
  options.accelerator("cpu");  // the messages below name the CPU, also on a machine with a GPU
  return options;
}

TEST(BadInput, TrainingStepReturningNoLoss) {
  struct NoLoss : TinyClassifier {
    torch::Tensor training_step(const Batch&, int64_t) override { return {}; }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  NoLoss model;
  Trainer trainer(one_epoch());
  const auto message = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(message.find("training_step returned no loss"), std::string::npos) << message;
  EXPECT_NE(message.find("epoch 0, batch 0"), std::string::npos) << message;
}

TEST(BadInput, LossThatIsNotAScalar) {
  struct VectorLoss : TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t) override { return forward(batch[0]).sum(1); }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  VectorLoss model;
  Trainer trainer(one_epoch());
  const auto message = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(message.find("scalar loss"), std::string::npos) << message;
}

TEST(BadInput, DetachedLoss) {
  struct Detached : TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t i) override {
      return TinyClassifier::training_step(batch, i).detach();
    }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  Detached model;
  Trainer trainer(one_epoch());
  EXPECT_NE(error_of([&] { trainer.fit(model, train); }).find("does not require grad"), std::string::npos);
}

TEST(BadInput, EmptyOptimizerList) {
  struct NoOptimizer : TinyClassifier {
    OptimizerConfig configure_optimizers() override { return OptimizerConfig{}; }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  NoOptimizer model;
  Trainer trainer(one_epoch());
  EXPECT_NE(error_of([&] { trainer.fit(model, train); }).find("configure_optimizers returned no optimizer"),
            std::string::npos);
}

TEST(BadInput, SeveralOptimizersUnderAutomaticOptimization) {
  struct Two : TinyClassifier {
    OptimizerConfig configure_optimizers() override {
      return std::vector<std::shared_ptr<torch::optim::Optimizer>>{
          std::make_shared<torch::optim::SGD>(parameters(), 0.1),
          std::make_shared<torch::optim::SGD>(parameters(), 0.1)};
    }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  Two model;
  Trainer trainer(one_epoch());
  EXPECT_NE(error_of([&] { trainer.fit(model, train); }).find("set_automatic_optimization(false)"), std::string::npos);
}

TEST(BadInput, BatchOnTheWrongDevice) {
  struct MetaBatches : TinyClassifier {
    Batch transfer_batch_to_device(const Batch& batch, const torch::Device&) override {
      return Batch::list({batch[0].to(torch::kMeta), batch[1]});
    }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  MetaBatches model;
  Trainer trainer(one_epoch());
  const auto message = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(message.find("the batch holds a tensor on meta but the module is on cpu"), std::string::npos) << message;
}

struct NanAtBatch2 : TinyClassifier {
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    auto loss = TinyClassifier::training_step(batch, batch_idx);
    return batch_idx == 2 ? loss * std::numeric_limits<float>::quiet_NaN() : loss;
  }
};

TEST(BadInput, NanLossWithDetectAnomalyStopsNamingTheBatch) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  NanAtBatch2 model;
  auto options = one_epoch();
  options.detect_anomaly(true);
  Trainer trainer(options);
  const auto before = testing::flat_parameters(model);
  const auto message = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(message.find("nan"), std::string::npos) << message;
  EXPECT_NE(message.find("epoch 0, batch 2"), std::string::npos) << message;
  // The bad step never reached the weights.
  EXPECT_TRUE(torch::isfinite(testing::flat_parameters(model)).all().item<bool>());
  EXPECT_EQ(trainer.global_step(), 2);
  (void)before;
}

// Documented behaviour without detect_anomaly: like Lightning, the kernel does not sync the
// device to look at the loss, so the NaN reaches the weights and training goes on.
TEST(BadInput, NanLossWithoutDetectAnomalyPropagatesAsDocumented) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  NanAtBatch2 model;
  Trainer trainer(one_epoch());
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 4);
  EXPECT_TRUE(torch::isnan(testing::flat_parameters(model)).any().item<bool>());
}

TEST(BadInput, ShapeErrorInsideTrainingStepNamesStepEpochAndBatch) {
  struct WrongShape : TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t) override {
      return torch::nn::functional::cross_entropy(forward(batch[0].narrow(1, 0, 3)), batch[1]);
    }
  };
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  WrongShape model;
  Trainer trainer(one_epoch());
  auto& recorder = static_cast<testing::HookRecorder&>(trainer.add_plugin(std::make_unique<testing::HookRecorder>()));
  const auto message = error_of([&] { trainer.fit(model, train); });
  EXPECT_EQ(message.rfind("training_step failed at epoch 0, batch 0: ", 0), 0u) << message;
  EXPECT_EQ(recorder.calls.back(), "on_exception");
  // As in Lightning the Module keeps its Trainer after the run; another run can take it over.
  EXPECT_TRUE(model.has_trainer());
  Trainer next(one_epoch());
  EXPECT_NE(error_of([&] { next.fit(model, train); }), "");
  EXPECT_EQ(&model.trainer(), &next);
}

TEST(BadInput, WrongTrainerOptionsNameTheOption) {
  auto message_for = [](auto change) {
    TrainerOptions options;
    change(options);
    return error_of([&] { Trainer trainer(options); });
  };
  EXPECT_NE(message_for([](TrainerOptions& o) { o.max_epochs() = -5; }).find("max_epochs"), std::string::npos);
  EXPECT_NE(message_for([](TrainerOptions& o) { o.accumulate_grad_batches() = 0; }).find("accumulate_grad_batches"),
            std::string::npos);
  EXPECT_NE(message_for([](TrainerOptions& o) { o.accelerator() = "tpu"; }).find("one of cpu, cuda, gpu, auto"),
            std::string::npos);
  EXPECT_NE(message_for([](TrainerOptions& o) { o.devices() = 2; }).find("ddp"), std::string::npos);
  EXPECT_NE(message_for([](TrainerOptions& o) { o.check_val_every_n_epoch() = 0; }).find("check_val_every_n_epoch"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              TrainerOptions o;
              o.limit_train_batches() = 1.5;
            }).find("[0.0, 1.0]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              TrainerOptions o;
              o.limit_train_batches() = -1;
            }).find(">= 0"),
            std::string::npos);
}

TEST(BadInput, CudaAcceleratorWithoutCudaIsAClearError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  TinyClassifier model;
  auto options = one_epoch();
  options.accelerator("cuda");
  Trainer trainer(options);
  EXPECT_NE(error_of([&] { trainer.fit(model, train); }).find("sees no CUDA device"), std::string::npos);
}

TEST(BadInput, TestWithoutTestStep) {
  struct TrainOnly : Module {
    TrainOnly() { linear = register_module("linear", torch::nn::Linear(4, 2)); }
    torch::Tensor training_step(const Batch& batch, int64_t) override { return linear(batch[0]).sum(); }
    OptimizerConfig configure_optimizers() override { return std::make_shared<torch::optim::SGD>(parameters(), 0.1); }
    torch::nn::Linear linear{nullptr};
  };
  auto data = testing::make_blobs(8);
  auto loader = testing::make_loader(data, 4);
  TrainOnly model;
  Trainer trainer;
  EXPECT_NE(error_of([&] { trainer.test(model, loader); }).find("needs a Module that implements test_step"),
            std::string::npos);
  // Called through the base class the static check cannot see the type; the step itself says it.
  Module& base = model;
  EXPECT_NE(error_of([&] { trainer.test(base, loader); }).find("does not implement test_step"), std::string::npos);
}

TEST(BadInput, LoggingOutsideARun) {
  TinyClassifier model;
  EXPECT_NE(error_of([&] { model.log("x", 1.0); }).find("not attached to a Trainer"), std::string::npos);
}

TEST(BadInput, DataLoaderWithMismatchedTargets) {
  EXPECT_NE(error_of([] {
              TensorDataLoader(torch::zeros({4, 2}), torch::zeros({3}));
            }).find("4 samples"),
            std::string::npos);
}

}  // namespace
}  // namespace fulgur
