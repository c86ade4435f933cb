// Python's dataset helpers: TensorDataset, random_split, Subset, ConcatDataset and per-sample
// transforms, on their own and feeding a fit.
#include <set>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "fulgur/data.h"
#include "fulgur/trainer.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

TEST(TensorDataset, SampleIsTheRowOfEveryTensor) {
  const auto a = torch::arange(12, torch::kFloat).reshape({4, 3});
  const auto b = torch::arange(4, torch::kLong);
  const auto c = torch::arange(8, torch::kDouble).reshape({4, 2});
  TensorDataset data(a, b, c);
  EXPECT_EQ(data.size(), 4);
  auto [x, y, z] = data.get(2).unpack<3>();
  EXPECT_TRUE(torch::equal(x, a[2]));
  EXPECT_EQ(y.item<int64_t>(), 2);
  EXPECT_TRUE(torch::equal(z, c[2]));
  // One tensor: a list of one, as PyTorch's tuple (x,).
  TensorDataset single(a);
  EXPECT_EQ(single.get(1).size(), 1u);
  EXPECT_TRUE(torch::equal(single.get(1)[0], a[1]));
}

TEST(TensorDataset, BadTensorsAreClearErrors) {
  EXPECT_NE(error_of([] {
              TensorDataset(torch::zeros({4, 2}), torch::zeros({3}));
            }).find("size mismatch between tensors: tensor 0 has 4 samples, tensor 1 has 3"),
            std::string::npos);
  EXPECT_NE(error_of([] { TensorDataset(torch::tensor(1.0)); }).find("tensor 0 is a scalar"), std::string::npos);
  EXPECT_NE(error_of([] { TensorDataset(std::vector<at::Tensor>{}); }).find("at least one tensor"), std::string::npos);
  TensorDataset data(torch::zeros({2, 2}));
  EXPECT_NE(error_of([&] { data.get(2); }).find("index 2 is out of range for 2 samples"), std::string::npos);
}

TEST(RandomSplit, FractionsRoundAsPyTorchDoes) {
  // floor(10 * 0.33) = 3 each, the remaining sample goes to the first split.
  EXPECT_EQ(split_lengths(10, {0.33, 0.33, 0.34}), (std::vector<int64_t>{4, 3, 3}));
  EXPECT_EQ(split_lengths(10, {0.8, 0.2}), (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(split_lengths(7, {0.5, 0.5}), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(split_lengths(10, {6, 4}), (std::vector<int64_t>{6, 4}));
  EXPECT_NE(error_of([] {
              split_lengths(10, {6, 3});
            }).find("the lengths sum to 9, the dataset has 10 samples"),
            std::string::npos);
  EXPECT_NE(error_of([] { split_lengths(10, {2.5, 7.5}); }).find("not a whole number"), std::string::npos);
  EXPECT_NE(error_of([] { split_lengths(10, {-0.5, 1.5}); }).find("length at index 0 is -0.5"), std::string::npos);
  EXPECT_NE(error_of([] { split_lengths(10, {}); }).find("at least one length"), std::string::npos);
}

TEST(RandomSplit, SeededSplitsAreDisjointCompleteAndRepeatable) {
  auto data = std::make_shared<TensorDataset>(torch::arange(100, torch::kLong));
  const Splits first = random_split(data, {0.7, 0.2, 0.1}, 42);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0]->size(), 70);
  EXPECT_EQ(first[1]->size(), 20);
  EXPECT_EQ(first[2]->size(), 10);
  std::set<int64_t> seen;
  for (const auto& subset : first.subsets) {
    for (int64_t i = 0; i < subset->size(); ++i) seen.insert(subset->get(i)[0].item<int64_t>());
  }
  EXPECT_EQ(seen.size(), 100u);  // every sample once
  EXPECT_EQ(random_split(data, {0.7, 0.2, 0.1}, 42)[0]->indices(), first[0]->indices());
  EXPECT_NE(random_split(data, {0.7, 0.2, 0.1}, 43)[0]->indices(), first[0]->indices());
  // The same permutation as torch.randperm(100, generator=torch.Generator().manual_seed(42)).
  auto generator = at::make_generator<at::CPUGeneratorImpl>(42);
  const auto permutation = at::randperm(100, generator, at::TensorOptions().dtype(at::kLong));
  for (int64_t i = 0; i < 70; ++i) EXPECT_EQ(first[0]->indices()[i], permutation[i].item<int64_t>());
  EXPECT_NE(error_of([&] { random_split(data, {0.5, 0.3, 0.2}, 1).as_pair(); }).find("has 3 parts"), std::string::npos);
}

TEST(Subset, ReadsTheChosenSamplesInOrder) {
  auto data = std::make_shared<TensorDataset>(torch::arange(10, torch::kLong) * 10);
  Subset subset(data, {7, 2, 2});
  EXPECT_EQ(subset.size(), 3);
  EXPECT_EQ(subset.get(0)[0].item<int64_t>(), 70);
  EXPECT_EQ(subset.get(2)[0].item<int64_t>(), 20);
  EXPECT_NE(error_of([&] {
              Subset(data, {1, 10});
            }).find("index 10 (position 1) is out of range for a dataset of 10"),
            std::string::npos);
  EXPECT_NE(error_of([&] { subset.get(3); }).find("index 3 is out of range for 3 samples"), std::string::npos);
}

TEST(ConcatDataset, IndexesAcrossDatasets) {
  auto a = std::make_shared<TensorDataset>(torch::arange(3, torch::kLong));
  auto b = std::make_shared<TensorDataset>(torch::arange(100, 102, torch::kLong));
  auto empty = std::make_shared<TensorDataset>(torch::zeros({0}, torch::kLong));
  ConcatDataset both({a, empty, b});
  EXPECT_EQ(both.size(), 5);
  EXPECT_EQ(both.cumulative_sizes(), (std::vector<int64_t>{3, 3, 5}));
  std::vector<int64_t> values;
  for (int64_t i = 0; i < both.size(); ++i) values.push_back(both.get(i)[0].item<int64_t>());
  EXPECT_EQ(values, (std::vector<int64_t>{0, 1, 2, 100, 101}));
  EXPECT_NE(error_of([&] { both.get(5); }).find("index 5 is out of range for 5 samples"), std::string::npos);
  EXPECT_NE(error_of([] { ConcatDataset({}); }).find("should not be an empty list"), std::string::npos);
  EXPECT_NE(error_of([&] { ConcatDataset({a, nullptr}); }).find("dataset 1 is null"), std::string::npos);
}

TEST(TransformedDataset, TransformsEachSampleInTheWorkers) {
  auto data = std::make_shared<TensorDataset>(torch::arange(16, torch::kFloat).reshape({8, 2}), torch::arange(8));
  auto doubled = std::make_shared<TransformedDataset>(data, [](Batch sample) {
    auto [x, y] = sample.unpack<2>();
    return Batch::list({x * 2, y});
  });
  DatasetLoader loader(doubled, DatasetLoaderOptions().batch_size(3).num_workers(2));
  loader.start_epoch(0);
  int64_t rows = 0;
  while (auto batch = loader.next()) {
    auto [x, y] = batch->unpack<2>();
    EXPECT_TRUE(torch::equal(x.select(1, 0), (y * 2).to(torch::kFloat) * 2));
    rows += x.size(0);
  }
  EXPECT_EQ(rows, 8);
  EXPECT_NE(error_of([&] { TransformedDataset(data, nullptr); }).find("no transform given"), std::string::npos);
}

TEST(DatasetHelpers, FitOnASplitOfATensorDataset) {
  // The pattern of Lightning's guides: one TensorDataset, split into train and validation.
  const auto blobs = testing::make_blobs(200, 4, 3);
  auto full = std::make_shared<TensorDataset>(blobs.x, blobs.y);
  auto [train, val] = random_split(full, {0.8, 0.2}, 7).as_pair();
  DatasetLoader train_loader(train, DatasetLoaderOptions().batch_size(16).shuffle(true));
  DatasetLoader val_loader(val, DatasetLoaderOptions().batch_size(40));
  testing::TinyClassifier model;
  Trainer trainer(testing::quiet_options(8));
  trainer.fit(model, train_loader, val_loader);
  const auto results = trainer.test(model, val_loader);
  EXPECT_GT(results.at("test_acc"), 0.9);
  EXPECT_EQ(train->size(), 160);
}

}  // namespace
}  // namespace fulgur
