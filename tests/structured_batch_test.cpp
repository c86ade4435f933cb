// Batches of any shape through every run, precision and several loaders: what a Lightning user
// writes as `x1, x2, y = batch` or `batch["mask"]` works the same way here.
#include <gtest/gtest.h>

#include "fulgur/data.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

TrainerOptions quiet(int64_t epochs = 1) { return testing::quiet_options(epochs); }

// Two inputs, a target, and per-sample file names (strings ride along untouched).
std::shared_ptr<Dataset> two_input_samples(int64_t n, uint64_t seed = 0) {
  auto blobs = testing::make_blobs(n, 4, seed);
  return std::make_shared<LambdaDataset>(n, [blobs](int64_t i) {
    return Batch::dict({{"left", blobs.x[i].narrow(0, 0, 2)},
                        {"right", blobs.x[i].narrow(0, 2, 2)},
                        {"label", blobs.y[i]},
                        {"file", "sample_" + std::to_string(i) + ".pt"}});
  });
}

struct TwoInputs : Module {
  TwoInputs() {
    left = register_module("left", torch::nn::Linear(2, 4));
    right = register_module("right", torch::nn::Linear(2, 4));
    head = register_module("head", torch::nn::Linear(8, 2));
  }
  torch::Tensor forward(const torch::Tensor& l, const torch::Tensor& r) {
    return head(torch::cat({torch::relu(left(l)), torch::relu(right(r))}, 1));
  }
  torch::Tensor loss_of(const Batch& batch) {
    EXPECT_EQ(batch.at("file").size(), static_cast<std::size_t>(batch["label"].size(0)));
    EXPECT_EQ(batch.at("file").at(0).str().rfind("sample_", 0), 0u);
    return torch::nn::functional::cross_entropy(forward(batch["left"], batch["right"]), batch["label"]);
  }
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    dtypes.push_back(forward(batch["left"], batch["right"]).scalar_type());
    auto loss = loss_of(batch);
    log("train_loss", loss);
    return loss;
  }
  torch::Tensor validation_step(const Batch& batch, int64_t, int64_t dataloader_idx) override {
    seen_loaders.push_back(dataloader_idx);
    log("val_loss", loss_of(batch));
    return {};
  }
  torch::Tensor test_step(const Batch& batch, int64_t) override {
    const auto logits = forward(batch["left"], batch["right"]);
    log("test_acc", (logits.argmax(1) == batch["label"]).to(torch::kFloat).mean());
    return logits;
  }
  torch::Tensor predict_step(const Batch& batch, int64_t) override {
    return forward(batch["left"], batch["right"]).argmax(1);
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.2));
  }
  torch::nn::Linear left{nullptr}, right{nullptr}, head{nullptr};
  std::vector<torch::ScalarType> dtypes;
  std::vector<int64_t> seen_loaders;
};

TEST(StructuredBatches, ADictWithStringsTrainsValidatesTestsAndPredicts) {
  DatasetLoader train(two_input_samples(128), DatasetLoaderOptions().batch_size(16).shuffle(true).num_workers(2));
  DatasetLoader val(two_input_samples(64, 1), DatasetLoaderOptions().batch_size(16));
  TwoInputs model;
  auto options = quiet(4);
  options.plugins().push_back(PluginSpec{"hook_trace", {{"path", testing::temp_dir("structured") + "/trace.txt"}}});
  Trainer trainer(options);
  trainer.fit(model, train, val);
  EXPECT_GT(trainer.test(model, val).at("test_acc"), 0.9);
  const auto predictions = trainer.predict(model, val);
  ASSERT_EQ(predictions.size(), 4u);
  EXPECT_EQ(predictions[0].sizes(), torch::IntArrayRef({16}));
}

TEST(StructuredBatches, TupleBatchesUnpackAndLibTorchExamplesStillWork) {
  struct ThreeTensors : Module {
    ThreeTensors() { linear = register_module("linear", torch::nn::Linear(4, 2)); }
    torch::Tensor training_step(const Batch& batch, int64_t) override {
      auto [x1, x2, y] = batch.unpack<3>();
      return torch::nn::functional::cross_entropy(linear(x1 + x2), y);
    }
    OptimizerConfig configure_optimizers() override {
      return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
    }
    torch::nn::Linear linear{nullptr};
  };
  auto blobs = testing::make_blobs(32);
  auto dataset = std::make_shared<LambdaDataset>(32, [blobs](int64_t i) {
    return Batch::list({blobs.x[i] * 0.5, blobs.x[i] * 0.5, blobs.y[i]});
  });
  DatasetLoader loader(dataset, DatasetLoaderOptions().batch_size(8));
  ThreeTensors model;
  Trainer trainer(quiet(2));
  trainer.fit(model, loader);
  EXPECT_EQ(trainer.global_step(), 8);
}

TEST(StructuredBatches, Bf16AutocastAnd64TrueReachEveryTensorOfTheBatch) {
  DatasetLoader train(two_input_samples(64), DatasetLoaderOptions().batch_size(16));
  {
    TwoInputs model;
    auto options = quiet();
    options.precision("bf16-mixed");
    Trainer trainer(options);
    trainer.fit(model, train);
    ASSERT_FALSE(model.dtypes.empty());
    EXPECT_EQ(model.dtypes.back(), torch::kBFloat16);
  }
  {
    struct Doubles : TwoInputs {
      torch::Tensor training_step(const Batch& batch, int64_t i) override {
        EXPECT_EQ(batch["left"].scalar_type(), torch::kDouble);
        EXPECT_EQ(batch["right"].scalar_type(), torch::kDouble);
        EXPECT_EQ(batch["label"].scalar_type(), torch::kLong);  // integers stay integers
        return TwoInputs::training_step(batch, i);
      }
    };
    Doubles model;
    auto options = quiet();
    options.precision("64-true");
    Trainer trainer(options);
    trainer.fit(model, train);
    EXPECT_EQ(model.dtypes.back(), torch::kDouble);
  }
}

TEST(SeveralLoaders, StepsGetTheLoaderIndexAndMetricsAreNamedPerLoader) {
  DatasetLoader train(two_input_samples(64), DatasetLoaderOptions().batch_size(16));
  DatasetLoader val_a(two_input_samples(32, 1), DatasetLoaderOptions().batch_size(8));  // 4 batches
  DatasetLoader val_b(two_input_samples(48, 2), DatasetLoaderOptions().batch_size(8));  // 6 batches
  TwoInputs model;
  auto options = quiet();
  options.num_sanity_val_steps(2);
  options.limit_val_batches(3);
  Trainer trainer(options);
  trainer.fit(model, train, {val_a, val_b});
  // Sanity check: 2 batches of each loader; the epoch's validation: 3 of each.
  EXPECT_EQ(model.seen_loaders, (std::vector<int64_t>{0, 0, 1, 1, 0, 0, 0, 1, 1, 1}));
  const auto& metrics = trainer.callback_metrics();
  EXPECT_TRUE(metrics.count("val_loss/dataloader_idx_0"));
  EXPECT_TRUE(metrics.count("val_loss/dataloader_idx_1"));
  EXPECT_FALSE(metrics.count("val_loss"));
  EXPECT_NE(metrics.at("val_loss/dataloader_idx_0").item<double>(),
            metrics.at("val_loss/dataloader_idx_1").item<double>());

  const auto results = trainer.test(model, {val_a, val_b});
  EXPECT_TRUE(results.count("test_acc/dataloader_idx_0") && results.count("test_acc/dataloader_idx_1"));
  const auto predictions = trainer.predict(model, {val_a, val_b});
  ASSERT_EQ(predictions.size(), 2u);
  EXPECT_EQ(predictions[0].size(), 4u);
  EXPECT_EQ(predictions[1].size(), 6u);
}

TEST(SeveralLoaders, OneLoaderKeepsPlainNames) {
  DatasetLoader train(two_input_samples(32), DatasetLoaderOptions().batch_size(16));
  TwoInputs model;
  Trainer trainer(quiet());
  trainer.fit(model, train, {train});
  EXPECT_TRUE(trainer.callback_metrics().count("val_loss"));
}

TEST(StructuredBatches, AnAmbiguousBatchAsksForBatchSizeWhenAnEpochMeanNeedsIt) {
  struct Ragged : testing::TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t) override {
      const auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
      log("on_step_only", loss);  // needs no weight
      log("epoch_mean", loss, LogOptions().on_epoch(true).batch_size(batch[0].size(0)));
      if (ask) log("ambiguous", loss, LogOptions().on_epoch(true));
      return loss;
    }
    bool ask = false;
  };
  auto blobs = testing::make_blobs(16);
  auto dataset = std::make_shared<LambdaDataset>(16, [blobs](int64_t i) {
    return Batch::list({blobs.x[i], blobs.y[i], torch::ones({3})});  // the last: 3 values whatever the batch
  });
  DatasetLoader loader(dataset, DatasetLoaderOptions().batch_size(8).collate_fn([](std::vector<Batch>& samples) {
    auto batch = default_collate(samples);
    return Batch::list({batch[0], batch[1], torch::ones({3})});
  }));
  Ragged model;
  Trainer trainer(quiet());
  trainer.fit(model, loader);
  model.ask = true;
  Trainer again(quiet());
  const auto message = error_of([&] { again.fit(model, loader); });
  EXPECT_NE(message.find("log('ambiguous')"), std::string::npos) << message;
  EXPECT_NE(message.find("disagree on the number of samples (tensor[8, 4] Float and tensor[3] Float)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("LogOptions().batch_size(n)"), std::string::npos) << message;
}

TEST(StructuredBatches, AMissingKeyInAStepNamesTheStepAndTheKeys) {
  struct WrongKey : TwoInputs {
    torch::Tensor training_step(const Batch& batch, int64_t) override { return batch["image"].sum(); }
  };
  DatasetLoader train(two_input_samples(16), DatasetLoaderOptions().batch_size(8));
  WrongKey model;
  Trainer trainer(quiet());
  const auto message = error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(
      message.find("training_step failed at epoch 0, batch 0: batch[\"image\"]: the batch has no such key; its keys "
                   "are 'left', 'right', 'label', 'file'"),
      std::string::npos)
      << message;
}

TEST(StructuredBatches, BatchTransferHooksRunInLightningsOrder) {
  struct Hooked : TwoInputs {
    Batch on_before_batch_transfer(Batch batch, int64_t) override {
      order.push_back("before");
      return Batch::dict({{"left", batch["left"]},
                          {"right", batch["right"]},
                          {"label", batch["label"]},
                          {"file", batch.at("file")},
                          {"extra", 1}});
    }
    Batch transfer_batch_to_device(const Batch& batch, const torch::Device& device) override {
      order.push_back("transfer");
      EXPECT_TRUE(batch.contains("extra"));
      return Module::transfer_batch_to_device(batch, device);
    }
    Batch on_after_batch_transfer(Batch batch, int64_t) override {
      order.push_back("after");
      return batch;
    }
    std::vector<std::string> order;
  };
  DatasetLoader train(two_input_samples(8), DatasetLoaderOptions().batch_size(8));
  Hooked model;
  Trainer trainer(quiet());
  trainer.fit(model, train);
  EXPECT_EQ(model.order, (std::vector<std::string>{"before", "transfer", "after"}));
}

}  // namespace
}  // namespace fulgur
