#include "digits_data.h"

#include <cstdio>
#include <filesystem>

#include "fulgur/tensor_data_loader.h"

#include <cctype>
#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <zlib.h>

namespace digits {
namespace {

constexpr int kPixels = 64;

std::vector<std::string> read_gzip_lines(const std::string& path) {
  std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) throw std::runtime_error("cannot open the digits data '" + path + "'");
  std::vector<std::string> lines;
  std::string current;
  char buffer[4096];
  while (gzgets(file.get(), buffer, sizeof buffer)) {
    current += buffer;
    if (!current.empty() && current.back() == '\n') {
      current.pop_back();
      if (!current.empty()) lines.push_back(current);
      current.clear();
    }
  }
  int code = Z_OK;
  const char* message = gzerror(file.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    throw std::runtime_error("'" + path + "' is not a readable gzip file: " + message);
  }
  if (!current.empty()) lines.push_back(current);
  return lines;
}

// A cell of the file as a number; anything else names the line and column, as a person would
// look for it in an editor.
double number_in(const std::string& cell, const std::string& path, int64_t line, int column) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(cell, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  while (used < cell.size() && std::isspace(static_cast<unsigned char>(cell[used]))) ++used;
  if (used == 0 || used != cell.size() || !std::isfinite(value)) {
    throw std::runtime_error(path + ": line " + std::to_string(line) + ", column " + std::to_string(column) + ": '" + cell +
                             "' is not a number");
  }
  return value;
}

}  // namespace

Dataset load(const std::string& path, uint64_t split_seed) {
  const auto lines = read_gzip_lines(path);
  if (lines.empty()) throw std::runtime_error("the digits data '" + path + "' is empty");
  const auto n = static_cast<int64_t>(lines.size());
  auto x = torch::empty({n, kPixels});
  auto y = torch::empty({n}, torch::kLong);
  auto xa = x.accessor<float, 2>();
  auto ya = y.accessor<int64_t, 1>();
  for (int64_t row = 0; row < n; ++row) {
    std::stringstream fields(lines[row]);
    std::string field;
    int column = 0;
    while (std::getline(fields, field, ',')) {
      const double value = number_in(field, path, row + 1, column + 1);
      if (column < kPixels) {
        xa[row][column] = static_cast<float>(value / 16.0);
      } else if (column == kPixels) {
        ya[row] = static_cast<int64_t>(value);
      }
      ++column;
    }
    if (column != kPixels + 1) {
      throw std::runtime_error(path + ": line " + std::to_string(row + 1) + " has " + std::to_string(column) +
                               " fields, expected 65 (64 pixels and a label)");
    }
  }
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
  shuffled.batch_size = batch_size_;
  shuffled.shuffle = true;
  shuffled.seed = shuffle_seed_;
  return std::make_unique<fulgur::TensorDataLoader>(data_.train.x, data_.train.y, shuffled);
}

namespace {
std::unique_ptr<fulgur::TensorDataLoader> in_order(const Split& split) {
  fulgur::TensorDataLoaderOptions options;
  options.batch_size = 256;
  return std::make_unique<fulgur::TensorDataLoader>(split.x, split.y, options);
}
}  // namespace

fulgur::DataLoaders DigitsDataModule::val_dataloader() { return in_order(data_.val); }
fulgur::DataLoaders DigitsDataModule::test_dataloader() { return in_order(data_.test); }
fulgur::DataLoaders DigitsDataModule::predict_dataloader() { return in_order(data_.test); }

}  // namespace digits
