#include "digits_data.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "fulgur/csv_dataset.h"
#include "fulgur/tensor_data_loader.h"

namespace digits {

Dataset load(const std::string& path, uint64_t split_seed) {
  // 64 pixel columns and the label, no header; errors name the line and column of a bad cell.
  const fulgur::CsvDataset table(path,
                                 fulgur::CsvDatasetOptions().header(false).targets({64}).target_dtype(torch::kLong));
  if (table.features().size(1) != 64) {
    throw std::runtime_error(path + ": " + std::to_string(table.features().size(1) + 1) +
                             " columns, expected 65 (64 pixels and a label)");
  }
  const auto x = table.features() / 16.0;
  const auto y = table.targets();
  const int64_t n = table.size();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(split_seed);
  const auto order = torch::randperm(n, generator, torch::kLong);
  const int64_t n_test = n / 5;
  const int64_t n_val = n / 10;
  const int64_t n_train = n - n_test - n_val;
  auto take = [&](int64_t start, int64_t length) {
    const auto rows = order.narrow(0, start, length);
    return Split{x.index_select(0, rows), y.index_select(0, rows)};
  };
  return {take(0, n_train), take(n_train, n_val), take(n_train + n_val, n_test)};
}

void standardize(Dataset& data) {
  const auto mean = data.train.x.mean(0);
  const auto std = data.train.x.std(0).clamp_min(1e-3);
  for (Split* split : {&data.train, &data.val, &data.test}) split->x = (split->x - mean) / std;
}

fulgur::HParamSpecs DigitsDataModule::declare_hparams() {
  return {{"path", FULGUR_DIGITS_DATA, "The digits CSV (gzip): 64 pixel columns and the label"},
          {"batch_size", 32, "Training samples per batch"}};
}

DigitsDataModule::DigitsDataModule(const fulgur::HParams& hparams)
    : DigitsDataModule(hparams.get<std::string>("path"), hparams.get<int64_t>("batch_size"),
                       at::detail::getDefaultCPUGenerator().current_seed()) {
  if (batch_size_ <= 0) throw std::invalid_argument("data.batch_size: expected a positive number of samples");
}

void DigitsDataModule::prepare_data() {
  if (!std::filesystem::is_regular_file(path_)) throw std::runtime_error("the digits data '" + path_ + "' is missing");
}

void DigitsDataModule::setup(fulgur::Stage) {
  if (loaded_) return;  // fit then test: one split for both
  data_ = load(path_);
  standardize(data_);
  loaded_ = true;
  std::printf("digits: %lld train, %lld validation, %lld test images\n", static_cast<long long>(data_.train.x.size(0)),
              static_cast<long long>(data_.val.x.size(0)), static_cast<long long>(data_.test.x.size(0)));
}

fulgur::DataLoaders DigitsDataModule::train_dataloader() {
  fulgur::TensorDataLoaderOptions shuffled;
  shuffled.batch_size(batch_size_);
  shuffled.shuffle(true);
  shuffled.seed(shuffle_seed_);
  return std::make_unique<fulgur::TensorDataLoader>(data_.train.x, data_.train.y, shuffled);
}

namespace {
std::unique_ptr<fulgur::TensorDataLoader> in_order(const Split& split) {
  fulgur::TensorDataLoaderOptions options;
  options.batch_size(256);
  return std::make_unique<fulgur::TensorDataLoader>(split.x, split.y, options);
}
}  // namespace

fulgur::DataLoaders DigitsDataModule::val_dataloader() { return in_order(data_.val); }
fulgur::DataLoaders DigitsDataModule::test_dataloader() { return in_order(data_.test); }
fulgur::DataLoaders DigitsDataModule::predict_dataloader() { return in_order(data_.test); }

}  // namespace digits
