// Shapes Lightning users write, accepted as they are: several optimizers in a std::vector, the
// ([optimizers], [schedulers]) pair, LibTorch's own StepLR, a loader handed over by unique_ptr,
// trainer.test(datamodule) after fit, hyper-parameters read and updated like Python's.
#include "fulgur/trainer.h"

namespace {
// Compiled before any other fulgur header: trainer.h alone lets the loggers be used.
std::string first_logger_dir(const fulgur::Trainer& trainer) { return trainer.loggers().front()->log_dir(); }
}  // namespace

#include <torch/torch.h>
#include <gtest/gtest.h>

#include "fulgur/lr_schedulers.h"
#include "fulgur/tensor_dataset.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

// Two optimizers from configure_optimizers as `return std::vector{opt_g, opt_d};`.
struct TwoOptimizers : Module {
  TwoOptimizers() {
    set_automatic_optimization(false);
    g = register_module("g", torch::nn::Linear(4, 1));
    d = register_module("d", torch::nn::Linear(4, 1));
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    for (std::size_t i = 0; i < 2; ++i) {
      auto optimizer = optimizers()[i];
      auto& layer = i == 0 ? g : d;
      auto loss = layer->forward(batch[0]).pow(2).mean();
      optimizer.zero_grad();
      manual_backward(loss);
      optimizer.step();
    }
    return {};
  }
  OptimizerConfig configure_optimizers() override {
    auto opt_g = std::make_shared<torch::optim::SGD>(g->parameters(), 0.1);
    auto opt_d = std::make_shared<torch::optim::SGD>(d->parameters(), 0.1);
    return std::vector{opt_g, opt_d};
  }
  torch::nn::Linear g{nullptr}, d{nullptr};
};

TEST(LightningShapes, AVectorOfOptimizersIsSeveralOptimizers) {
  const auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 8);
  TwoOptimizers model;
  const auto g_before = model.g->weight.clone();
  const auto d_before = model.d->weight.clone();
  Trainer trainer(testing::quiet_options(1));
  trainer.fit(model, loader);
  EXPECT_EQ(model.optimizers().size(), 2u);
  EXPECT_FALSE(torch::equal(model.g->weight, g_before));
  EXPECT_FALSE(torch::equal(model.d->weight, d_before));
}

// A classifier whose configure_optimizers returns what the test hands it.
struct Scheduled : testing::TinyClassifier {
  std::function<OptimizerConfig(Scheduled&)> make;
  OptimizerConfig configure_optimizers() override { return make(*this); }
};

double lr_of(const torch::optim::Optimizer& optimizer) {
  return static_cast<const torch::optim::SGDOptions&>(optimizer.param_groups().front().options()).lr();
}

TEST(LightningShapes, OptimizersAndSchedulersAsLightningsPair) {
  const auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 8);
  Scheduled model;
  model.make = [](Scheduled& m) -> OptimizerConfig {
    auto sgd = std::make_shared<torch::optim::SGD>(m.parameters(), 0.4);
    return {{sgd}, {std::make_shared<StepLR>(*sgd, 1, 0.5)}};
  };
  Trainer trainer(testing::quiet_options(3));
  trainer.fit(model, loader);
  EXPECT_DOUBLE_EQ(lr_of(*trainer.optimizers().front()), 0.4 * 0.125);  // stepped after each of 3 epochs
}

TEST(LightningShapes, LibTorchsOwnStepLRGoesInTheSchedulerConfig) {
  const auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 8);
  Scheduled model;
  model.make = [](Scheduled& m) {
    auto sgd = std::make_shared<torch::optim::SGD>(m.parameters(), 0.4);
    OptimizerConfig config(sgd);
    config.lr_schedulers.push_back(
        {std::make_shared<torch::optim::StepLR>(*sgd, /*step_size=*/1, /*gamma=*/0.5), "step"});
    return config;
  };
  Trainer trainer(testing::quiet_options(1));
  trainer.fit(model, loader);
  // Two steps at interval "step": LibTorch's StepLR counts its first step() as step 0 (PyTorch's
  // schedulers take that one when made), so the rate has halved once.
  EXPECT_DOUBLE_EQ(lr_of(*trainer.optimizers().front()), 0.2);
  EXPECT_EQ(trainer.lr_schedulers().front().scheduler->kind(), "libtorch");

  // With two optimizers LibTorch's scheduler does not say whose rates it sets: an error says so.
  Scheduled two;
  two.set_automatic_optimization(false);
  two.make = [](Scheduled& m) {
    auto a = std::make_shared<torch::optim::SGD>(m.parameters(), 0.4);
    auto b = std::make_shared<torch::optim::SGD>(m.parameters(), 0.4);
    return OptimizerConfig({a, b}, {{std::make_shared<torch::optim::StepLR>(*a, 1)}});
  };
  Trainer other(testing::quiet_options(1));
  EXPECT_NE(error_of([&] { other.fit(two, loader); }).find("LibTorch scheduler with 2 optimizers"), std::string::npos);
}

TEST(LightningShapes, FitTakesALoaderByUniquePointer) {
  const auto data = testing::make_blobs(64, 4, 2);
  testing::TinyClassifier model;
  Trainer trainer(testing::quiet_options(5));
  trainer.fit(model, std::make_unique<DatasetLoader>(std::make_shared<TensorDataset>(data.x, data.y),
                                                     DatasetLoaderOptions().batch_size(16).shuffle(true)));
  auto test_loader = testing::make_loader(data, 64);
  EXPECT_GT(trainer.test(model, test_loader).at("test_acc"), 0.9);
  EXPECT_NE(
      error_of([&] { trainer.fit(model, std::unique_ptr<DatasetLoader>()); }).find("the training loader given is null"),
      std::string::npos);
}

class BlobsData : public DataModule {
 public:
  explicit BlobsData(testing::Blobs blobs) : blobs_(std::move(blobs)) {}
  DataLoaders train_dataloader() override { return loader(); }
  DataLoaders val_dataloader() override { return loader(); }
  DataLoaders test_dataloader() override { return loader(); }

 private:
  DataLoaders loader() {
    return DataLoaders(std::make_unique<DatasetLoader>(std::make_shared<TensorDataset>(blobs_.x, blobs_.y),
                                                       DatasetLoaderOptions().batch_size(16)));
  }
  testing::Blobs blobs_;
};

TEST(LightningShapes, TestWithADataModuleRunsTheModuleFittedLastFromItsBestCheckpoint) {
  const auto dir = testing::temp_dir("shapes_test_last");
  BlobsData data(testing::make_blobs(64, 4, 5));
  testing::TinyClassifier model;
  auto options = testing::quiet_options(3);
  options.default_root_dir(dir);
  options.enable_checkpointing(true);
  options.plugins().push_back(PluginSpec::parse("model_checkpoint:monitor=val_loss"));
  Trainer trainer(options);
  trainer.fit(model, data);
  const auto weights = model.linear->weight.clone();
  // Lightning's trainer.test(datamodule=dm): the fitted Module, with the best checkpoint's weights.
  const auto results = trainer.test(data);
  EXPECT_GT(results.at("test_acc"), 0.9);
  EXPECT_EQ(trainer.test(data, "last").count("test_acc"), 1u);
  auto loader = testing::make_loader(testing::make_blobs(16, 4, 5), 16);
  EXPECT_EQ(trainer.validate(loader, "last").count("val_loss"), 1u);

  // Without a checkpoint plugin "best" cannot be found, as in Lightning; without a Module, nothing runs.
  testing::TinyClassifier unsaved;
  Trainer plain(testing::quiet_options(1));
  plain.fit(unsaved, data);
  EXPECT_NE(error_of([&] { plain.test(data); }).find("ckpt_path='best'"), std::string::npos);
  EXPECT_EQ(plain.test(unsaved, data).count("test_acc"), 1u);
  Trainer fresh(testing::quiet_options(1));
  EXPECT_NE(error_of([&] { fresh.test(data); }).find("runs the Module this Trainer ran last, and there is none"),
            std::string::npos);
  (void)weights;
}

// Reads its learning rate from hparams(), as Lightning's self.hparams.lr.
struct FromHparams : testing::TinyClassifier {
  FromHparams() { save_hyperparameters({{"lr", 0.05}, {"hidden", 8}, {"act", "relu"}}); }
  OptimizerConfig configure_optimizers() override {
    const double rate = hparams().at("lr");  // converts where the type is clear
    return std::make_shared<torch::optim::SGD>(parameters(), rate);
  }
};

TEST(LightningShapes, HyperparametersReadAsTheirTypeAndUpdateLikePythons) {
  FromHparams model;
  const int64_t hidden = model.hparams().at("hidden");
  const std::string act = model.hparams().at("act");
  EXPECT_EQ(hidden, 8);
  EXPECT_EQ(act, "relu");
  EXPECT_NE(error_of([&] {
              const double wrong = model.hparams().at("act");
              (void)wrong;
            }).find("string"),
            std::string::npos);
  model.hparams().set("lr", 0.2);  // self.hparams.lr = 0.2
  const auto data = testing::make_blobs(16);
  auto loader = testing::make_loader(data, 8);
  auto logger = std::make_unique<testing::RecordingLogger>();
  auto* recording = logger.get();
  Trainer trainer(testing::quiet_options(1));
  trainer.add_plugin(std::move(logger));
  trainer.fit(model, loader);
  EXPECT_DOUBLE_EQ(lr_of(*trainer.optimizers().front()), 0.2);
  ASSERT_EQ(recording->hparams.size(), 1u);
  EXPECT_EQ(recording->hparams.front().get<double>("lr"), 0.2);
  EXPECT_EQ(first_logger_dir(trainer), "");
}

}  // namespace
}  // namespace fulgur
