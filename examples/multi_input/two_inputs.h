// The Keras functional-API guide's two-input model and its data (see main.cpp): each UCI digit
// cut into its left and right halves, Dense(64, relu) on each, concatenated, Dense(1, sigmoid)
// predicting whether the digit is 5 or more. The batch is (left, right, y).
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "fulgur/data.h"
#include "fulgur/hparam_spec.h"
#include "fulgur/module.h"

namespace multi_input {

// The digits table as (left half, right half, digit >= 5) samples: pixels scaled to 0..1.
class Halves : public fulgur::Dataset {
 public:
  Halves(torch::Tensor pixels, torch::Tensor digits) : pixels_(std::move(pixels)), digits_(std::move(digits)) {}
  fulgur::Batch get(int64_t i) override {
    const auto image = pixels_[i].view({8, 8}) / 16.0;
    return fulgur::Batch::list({image.narrow(1, 0, 4).reshape({32}), image.narrow(1, 4, 4).reshape({32}),
                                (digits_[i] >= 5).to(torch::kFloat)});
  }
  int64_t size() const override { return pixels_.size(0); }

 private:
  torch::Tensor pixels_, digits_;
};

// Lightning's LightningDataModule: the CSV read in setup, split 70/10/20 with a fixed seed.
class DigitHalves : public fulgur::DataModule {
 public:
  DigitHalves(std::string path, int64_t batch_size, int64_t num_workers)
      : path_(std::move(path)), batch_size_(batch_size), num_workers_(num_workers) {}
  static fulgur::HParamSpecs declare_hparams() {
    return {{"path", FULGUR_DIGITS_DATA, "The digits CSV (gzip)"},
            {"batch_size", 32, "Training samples per batch"},
            {"num_workers", 0, "Loader threads"}};
  }
  explicit DigitHalves(const fulgur::HParams& hparams)
      : DigitHalves(hparams.get<std::string>("path"), hparams.get<int64_t>("batch_size"),
                    hparams.get<int64_t>("num_workers")) {}

  void setup(fulgur::Stage) override {
    if (train_) return;  // fit, then test: the split is made once
    fulgur::CsvDataset table(path_, fulgur::CsvDatasetOptions().header(false).targets({64}).target_dtype(torch::kLong));
    auto generator = at::make_generator<at::CPUGeneratorImpl>(42);
    const auto order = torch::randperm(table.size(), generator, torch::kLong);
    const int64_t n = table.size(), n_test = n / 5, n_val = n / 10, n_train = n - n_test - n_val;
    auto split = [&](int64_t start, int64_t length) {
      const auto rows = order.narrow(0, start, length);
      return std::make_shared<Halves>(table.features().index_select(0, rows), table.targets().index_select(0, rows));
    };
    train_ = split(0, n_train);
    val_ = split(n_train, n_val);
    test_ = split(n_train + n_val, n_test);
  }
  fulgur::DataLoaders train_dataloader() override {
    return std::make_unique<fulgur::DatasetLoader>(
        train_, fulgur::DatasetLoaderOptions().batch_size(batch_size_).shuffle(true).num_workers(num_workers_));
  }
  fulgur::DataLoaders val_dataloader() override { return in_order(val_); }
  fulgur::DataLoaders test_dataloader() override { return in_order(test_); }

 private:
  fulgur::DataLoaders in_order(std::shared_ptr<Halves> data) const {
    return std::make_unique<fulgur::DatasetLoader>(
        std::move(data), fulgur::DatasetLoaderOptions().batch_size(256).num_workers(num_workers_));
  }

  std::string path_;
  int64_t batch_size_, num_workers_;
  std::shared_ptr<Halves> train_, val_, test_;
};

class TwoInputNet : public fulgur::Module {
 public:
  explicit TwoInputNet(double lr) : lr_(lr) {
    left_ = register_module("left", torch::nn::Linear(32, 64));
    right_ = register_module("right", torch::nn::Linear(32, 64));
    head_ = register_module("head", torch::nn::Linear(128, 1));
    save_hyperparameters({{"lr", lr}});
  }
  static fulgur::HParamSpecs declare_hparams() { return {{"lr", 2e-3, "Adam's learning rate"}}; }
  explicit TwoInputNet(const fulgur::HParams& hparams) : TwoInputNet(hparams.get<double>("lr")) {}

  /// The probability that the digit is 5 or more.
  torch::Tensor forward(const torch::Tensor& left, const torch::Tensor& right) {
    const auto features = torch::cat({torch::relu(left_(left)), torch::relu(right_(right))}, 1);
    return torch::sigmoid(head_(features)).squeeze(1);
  }

  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    auto [left, right, y] = batch.unpack<3>();
    const auto loss = torch::binary_cross_entropy(forward(left, right), y);
    log("train_loss", loss, fulgur::LogOptions().prog_bar(true));
    return loss;
  }

  torch::Tensor validation_step(const fulgur::Batch& batch, int64_t) override {
    evaluate(batch, "val");
    return {};
  }

  torch::Tensor test_step(const fulgur::Batch& batch, int64_t) override {
    evaluate(batch, "test");
    return {};
  }

  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(lr_));
  }

 private:
  void evaluate(const fulgur::Batch& batch, const std::string& stage) {
    auto [left, right, y] = batch.unpack<3>();
    const auto probability = forward(left, right);
    log(stage + "_loss", torch::binary_cross_entropy(probability, y), fulgur::LogOptions().sync_dist(true));
    log(stage + "_acc", ((probability > 0.5).to(torch::kFloat) == y).to(torch::kFloat).mean(),
        fulgur::LogOptions().prog_bar(true).sync_dist(true));
  }

  torch::nn::Linear left_{nullptr}, right_{nullptr}, head_{nullptr};
  double lr_;
};

}  // namespace multi_input
