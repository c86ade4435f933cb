// Data loaders: seeded, reproducible shuffles and LibTorch loaders plugged into the Trainer.
#include <gtest/gtest.h>

#include "testing.h"

namespace fulgur {
namespace {

std::vector<int64_t> epoch_order(TensorDataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<int64_t> order;
  while (auto batch = loader.next()) {
    for (int64_t i = 0; i < (*batch)[1].size(0); ++i) order.push_back((*batch)[1][i].item<int64_t>());
  }
  return order;
}

TensorDataLoader indexed_loader(int64_t samples, TensorDataLoaderOptions options) {
  auto index = torch::arange(samples);
  return TensorDataLoader(index.to(torch::kFloat).unsqueeze(1), index, options);
}

TEST(TensorDataLoader, SameSeedAndEpochGiveTheSameOrderWhateverElseDrewRandomNumbers) {
  TensorDataLoaderOptions options;
  options.batch_size(3);
  options.shuffle(true);
  options.seed(11);
  auto first = indexed_loader(10, options);
  auto second = indexed_loader(10, options);
  const auto a = epoch_order(first, 2);
  torch::rand({100});  // disturbs the global generator
  const auto b = epoch_order(second, 2);
  EXPECT_EQ(a, b);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_NE(epoch_order(first, 3), a);
}

TEST(TensorDataLoader, SequentialWithoutShuffle) {
  TensorDataLoaderOptions options;
  options.batch_size(4);
  auto loader = indexed_loader(10, options);
  EXPECT_EQ(epoch_order(loader, 0), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(loader.size(), 3);
}

TEST(TensorDataLoader, DropLastDropsTheShortBatch) {
  TensorDataLoaderOptions options;
  options.batch_size(4);
  options.drop_last(true);
  auto loader = indexed_loader(10, options);
  EXPECT_EQ(loader.size(), 2);
  EXPECT_EQ(epoch_order(loader, 0).size(), 8u);
}

// PyTorch's DistributedSampler: pad the order to a multiple of the world size with its start,
// then every world_size-th sample from the rank on.
TEST(TensorDataLoader, ShardsLikeDistributedSampler) {
  const auto data = torch::arange(10).unsqueeze(1).to(torch::kFloat);
  auto rows_of = [&](int64_t rank, bool shuffle) {
    TensorDataLoaderOptions options;
    options.batch_size(2);
    options.shuffle(shuffle);
    options.seed(4);
    TensorDataLoader loader(data, torch::Tensor(), options);
    loader.shard(rank, 3);
    EXPECT_EQ(loader.size(), 2);  // ceil(10 / 3) = 4 samples each
    loader.start_epoch(1);
    std::vector<int64_t> rows;
    while (auto batch = loader.next()) {
      for (int64_t i = 0; i < batch->tensor().size(0); ++i) rows.push_back(batch->tensor()[i][0].item<int64_t>());
    }
    return rows;
  };
  EXPECT_EQ(rows_of(0, false), (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(rows_of(1, false), (std::vector<int64_t>{1, 4, 7, 0}));  // padded with the first sample
  EXPECT_EQ(rows_of(2, false), (std::vector<int64_t>{2, 5, 8, 1}));
  // Shuffled: the three shares together are the unsharded epoch's order, padded.
  TensorDataLoaderOptions whole_options;
  whole_options.batch_size(12);
  whole_options.shuffle(true);
  whole_options.seed(4);
  TensorDataLoader whole(data, torch::Tensor(), whole_options);
  whole.start_epoch(1);
  const auto order = whole.next()->tensor().squeeze(1).to(torch::kLong);
  std::vector<std::vector<int64_t>> shares{rows_of(0, true), rows_of(1, true), rows_of(2, true)};
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(shares[i % 3][i / 3], order[i % 10].item<int64_t>()) << i;
  TensorDataLoader tiny(data.narrow(0, 0, 2), torch::Tensor());
  EXPECT_NE(testing::error_of([&] { tiny.shard(0, 3); }).find("2 samples cannot be shared by 3 processes"),
            std::string::npos);
}

TEST(TorchDataLoader, LibTorchLoaderTrainsThroughTheTrainer) {
  auto blobs = testing::make_blobs(64);
  auto loader = wrap(torch::data::make_data_loader<torch::data::samplers::SequentialSampler>(
      testing::BlobExamples(blobs), torch::data::DataLoaderOptions().batch_size(16)));
  loader->start_epoch(0);
  auto first = loader->next();
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)[0].sizes(), torch::IntArrayRef({16, 4}));
  EXPECT_TRUE(torch::equal((*first)[0], blobs.x.narrow(0, 0, 16)));

  testing::TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(2);
  Trainer trainer(options);
  trainer.fit(model, *loader);
  EXPECT_EQ(trainer.global_step(), 8);
  EXPECT_EQ(trainer.num_training_batches(), -1);  // the length is unknown to fulgur

  // A stacked loader (Stack<> transform) yields Example<> directly.
  auto stacked = wrap(torch::data::make_data_loader<torch::data::samplers::SequentialSampler>(
      testing::BlobExamples(blobs).map(torch::data::transforms::Stack<>()),
      torch::data::DataLoaderOptions().batch_size(32)));
  const auto results = trainer.test(model, *stacked);
  EXPECT_GT(results.at("test_acc"), 0.9);
}

}  // namespace
}  // namespace fulgur
