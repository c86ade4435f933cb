// Two inputs, one prediction: the Keras functional-API guide's model with fulgur.
//
// Each UCI digit (8x8 pixels) is cut into its left and right halves; each half goes through
// Dense(64, relu) of its own, the two are concatenated, and Dense(1, sigmoid) predicts whether
// the digit is 5 or more (binary cross-entropy). The batch is (left, right, y), read in the steps
// as `auto [left, right, y] = batch.unpack<3>();`.
//
//   build/examples/multi_input/multi_input            # trains, then reports test accuracy
//   build/examples/multi_input/multi_input --num-workers 2 --max-epochs 40
#include <cstdio>

#include <ATen/CPUGeneratorImpl.h>
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "fulgur/command_line.h"
#include "fulgur/data.h"
#include "fulgur/seed.h"
#include "fulgur/trainer.h"

namespace {

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
    return std::make_unique<fulgur::DatasetLoader>(std::move(data),
                                                   fulgur::DatasetLoaderOptions().batch_size(256).num_workers(num_workers_));
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

int run(int argc, char** argv) {
  CLI::App app{"fulgur multi_input example: a two-input model on the digits' left and right halves"};
  fulgur::TrainerOptions options;
  options.max_epochs(30);
  auto trainer_flags = fulgur::add_trainer_options(app, options);
  std::string data_path = FULGUR_DIGITS_DATA;
  int64_t batch_size = 32, num_workers = 0;
  double lr = 2e-3;
  app.add_option("--data", data_path, "The digits CSV (gzip)");
  app.add_option("--batch-size", batch_size, "Samples per batch")->check(fulgur::integer_in_range())->check(CLI::PositiveNumber);
  app.add_option("--num-workers", num_workers, "Loader threads")->check(fulgur::integer_in_range())->check(CLI::NonNegativeNumber);
  app.add_option("--lr", lr, "Adam learning rate")->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  fulgur::finish_trainer_options(*trainer_flags, options);
  fulgur::seed_everything(options.seed().value_or(0));

  DigitHalves data(data_path, batch_size, num_workers);
  TwoInputNet model(lr);
  fulgur::Trainer trainer(options);
  trainer.fit(model, data);
  const auto results = trainer.test(model, data);
  std::printf("test_loss: %.4f\n", results.at("test_loss"));
  std::printf("test_acc: %.4f\n", results.at("test_acc"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
