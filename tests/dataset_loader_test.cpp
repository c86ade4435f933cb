// DatasetLoader: PyTorch's DataLoader semantics with worker threads, and LibTorch's loaders
// through the adapter, in every way an epoch can end.
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "fulgur/data.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

// Sample i is [tensor([i, i]) as float, i as an int]: the order a loader visited is readable.
std::shared_ptr<Dataset> numbered(int64_t size, std::atomic<int>* calls = nullptr) {
  return std::make_shared<LambdaDataset>(size, [calls](int64_t i) {
    if (calls) ++*calls;
    return Batch::list({torch::full({2}, static_cast<double>(i)), i});
  });
}

std::vector<int64_t> ids_of(const Batch& batch) {
  const auto ids = batch[1];
  return std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
}

std::vector<int64_t> pass(DataLoader& loader, int64_t epoch, int64_t max_batches = -1) {
  loader.start_epoch(epoch);
  std::vector<int64_t> order;
  for (int64_t b = 0; max_batches < 0 || b < max_batches; ++b) {
    auto batch = loader.next();
    if (!batch) break;
    for (auto id : ids_of(*batch)) order.push_back(id);
  }
  return order;
}

TEST(DatasetLoader, BatchesCollateSamplesAndTheLengthIsKnown) {
  DatasetLoader loader(numbered(10), DatasetLoaderOptions().batch_size(4));
  EXPECT_EQ(loader.size(), 3);
  loader.start_epoch(0);
  auto first = loader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)[0].sizes(), torch::IntArrayRef({4, 2}));
  EXPECT_EQ(ids_of(*first), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(pass(loader, 0), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  DatasetLoader dropping(numbered(10), DatasetLoaderOptions().batch_size(4).drop_last(true));
  EXPECT_EQ(dropping.size(), 2);
  EXPECT_EQ(pass(dropping, 0).size(), 8u);
}

TEST(DatasetLoader, SameSeedAndEpochGiveTheSameOrderWithAnyNumberOfWorkers) {
  std::vector<std::vector<int64_t>> orders;
  for (int64_t workers : {0, 1, 2, 3}) {
    DatasetLoader loader(numbered(50), DatasetLoaderOptions().batch_size(7).shuffle(true).seed(5).num_workers(workers));
    orders.push_back(pass(loader, 3));
    EXPECT_NE(pass(loader, 4), orders.back()) << workers;
  }
  for (const auto& order : orders) EXPECT_EQ(order, orders[0]);
  auto sorted = orders[0];
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i);
  // The same permutation as TensorDataLoader (and PyTorch's sampler seeded with seed + epoch).
  TensorDataLoaderOptions tensor_options;
  tensor_options.batch_size(50);
  tensor_options.shuffle(true);
  tensor_options.seed(5);
  TensorDataLoader tensors(torch::zeros({50, 1}), torch::arange(50), tensor_options);
  tensors.start_epoch(3);
  const auto expected = (*tensors.next())[1];
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(orders[0][static_cast<std::size_t>(i)], expected[i].item<int64_t>());
}

TEST(DatasetLoader, AnEpochStoppedEarlyNeverPoisonsTheNextOne) {
  std::atomic<int> calls{0};
  DatasetLoader loader(numbered(40, &calls),
                       DatasetLoaderOptions().batch_size(4).num_workers(2).prefetch_factor(2).shuffle(true).seed(1));
  const auto full = pass(loader, 0);
  for (int round = 0; round < 5; ++round) {
    EXPECT_EQ(pass(loader, 0, 2).size(), 8u);  // two batches, then abandoned
  }
  EXPECT_EQ(pass(loader, 0), full);
  // Workers prepare a bounded window ahead (num_workers x prefetch_factor batches), not the epoch.
  calls = 0;
  pass(loader, 1, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(calls.load(), 4 * (1 + 2 * 2));
}

TEST(DatasetLoader, PersistentWorkersServeEveryEpoch) {
  DatasetLoader loader(numbered(30),
                       DatasetLoaderOptions().batch_size(5).num_workers(2).persistent_workers(true).shuffle(true));
  DatasetLoader single(numbered(30), DatasetLoaderOptions().batch_size(5).shuffle(true));
  for (int64_t epoch = 0; epoch < 4; ++epoch)
    EXPECT_EQ(pass(loader, epoch, epoch == 1 ? 2 : -1), pass(single, epoch, epoch == 1 ? 2 : -1));
}

TEST(DatasetLoader, SkipResumesMidEpochWithoutReadingTheSkippedSamples) {
  std::atomic<int> calls{0};
  DatasetLoader loader(numbered(30, &calls), DatasetLoaderOptions().batch_size(4).num_workers(2).shuffle(true).seed(9));
  const auto full = pass(loader, 2);
  DatasetLoader resumed(numbered(30, &calls),
                        DatasetLoaderOptions().batch_size(4).num_workers(2).shuffle(true).seed(9));
  resumed.start_epoch(2);
  EXPECT_EQ(resumed.skip(3), 3);
  std::vector<int64_t> rest;
  while (auto batch = resumed.next()) {
    for (auto id : ids_of(*batch)) rest.push_back(id);
  }
  EXPECT_EQ(rest, std::vector<int64_t>(full.begin() + 12, full.end()));
  resumed.start_epoch(0);
  EXPECT_EQ(resumed.skip(100), 8);
  EXPECT_FALSE(resumed.next());
}

TEST(DatasetLoader, AThrowingSampleIsAnErrorNamingItsIndexNeverAHang) {
  auto dataset = std::make_shared<LambdaDataset>(20, [](int64_t i) -> Batch {
    if (i == 13) throw std::runtime_error("corrupt record");
    return Batch::list({torch::full({1}, static_cast<double>(i)), i});
  });
  for (int64_t workers : {0, 2}) {
    DatasetLoader loader(dataset, DatasetLoaderOptions().batch_size(4).num_workers(workers));
    loader.start_epoch(0);
    EXPECT_TRUE(loader.next());
    EXPECT_TRUE(loader.next());
    EXPECT_TRUE(loader.next());
    const auto message = error_of([&] { loader.next(); });
    EXPECT_NE(message.find("dataset sample 13: get() failed: corrupt record"), std::string::npos) << message;
    EXPECT_EQ(pass(loader, 0, 3).size(), 12u);  // the next pass works
  }
}

TEST(DatasetLoader, SamplesOfMismatchedShapesNameTheIndexAndBothShapes) {
  auto dataset = std::make_shared<LambdaDataset>(8, [](int64_t i) -> Batch { return torch::ones({i == 5 ? 3 : 2}); });
  DatasetLoader loader(dataset, DatasetLoaderOptions().batch_size(4).num_workers(1));
  loader.start_epoch(0);
  loader.next();
  const auto message = error_of([&] { loader.next(); });
  EXPECT_NE(message.find("samples 4 and 5 cannot be stacked"), std::string::npos) << message;
  EXPECT_NE(message.find("sample 4: tensor[2] Float; sample 5: tensor[3] Float"), std::string::npos) << message;
}

TEST(DatasetLoader, BadArgumentsAreNamed) {
  EXPECT_NE(error_of([] { DatasetLoader(numbered(0)); }).find("the dataset is empty"), std::string::npos);
  EXPECT_NE(error_of([] {
              DatasetLoader(numbered(4), DatasetLoaderOptions().batch_size(0));
            }).find("batch_size must be >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              DatasetLoader(numbered(4), DatasetLoaderOptions().num_workers(-1));
            }).find("num_workers must be >= 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { DatasetLoader(std::shared_ptr<Dataset>()); }).find("no dataset given"), std::string::npos);
  TensorDataLoaderOptions zero;
  zero.batch_size(0);
  EXPECT_NE(error_of([&] {
              TensorDataLoader(torch::zeros({4, 1}), torch::Tensor(), zero);
            }).find("batch_size must be >= 1"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              TensorDataLoader(torch::zeros({0, 1}), torch::Tensor());
            }).find("no samples"),
            std::string::npos);
}

TEST(DatasetLoader, ShardsLikeDistributedSampler) {
  // Ranks of 3 together see every sample (10 padded to 12), each a disjoint stride.
  std::vector<int64_t> all;
  for (int64_t rank = 0; rank < 3; ++rank) {
    DatasetLoader loader(numbered(10), DatasetLoaderOptions().batch_size(2).shuffle(true).seed(4).num_workers(rank));
    loader.shard(rank, 3);
    EXPECT_EQ(loader.size(), 2);
    const auto share = pass(loader, 1);
    EXPECT_EQ(share.size(), 4u);
    all.insert(all.end(), share.begin(), share.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 10u);
}

// An IterableDataset whose streams take every num_shards-th record.
class Records : public IterableDataset {
 public:
  explicit Records(int64_t count, int64_t fail_at = -1) : count_(count), fail_at_(fail_at) {}
  std::unique_ptr<SampleStream> stream(const StreamShard& shard) override {
    struct Stream : SampleStream {
      int64_t next_record, step, end, fail_at;
      std::optional<Batch> next() override {
        if (next_record >= end) return std::nullopt;
        if (next_record == fail_at) throw std::runtime_error("bad record");
        const int64_t r = next_record;
        next_record += step;
        return Batch::list({torch::full({1}, static_cast<double>(r)), r});
      }
    };
    auto stream = std::make_unique<Stream>();
    stream->next_record = shard.shard;
    stream->step = shard.num_shards;
    stream->end = count_;
    stream->fail_at = fail_at_;
    return stream;
  }

 private:
  int64_t count_, fail_at_;
};

TEST(DatasetLoader, IterableDatasetsSplitAcrossWorkersAndEndCleanly) {
  for (int64_t workers : {0, 1, 3}) {
    DatasetLoader loader(std::make_shared<Records>(23), DatasetLoaderOptions().batch_size(4).num_workers(workers));
    EXPECT_FALSE(loader.size());
    auto seen = pass(loader, 0);
    std::sort(seen.begin(), seen.end());
    ASSERT_EQ(seen.size(), 23u) << workers;
    for (int64_t i = 0; i < 23; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
    EXPECT_EQ(pass(loader, 1, 2).size(), 8u);
    EXPECT_EQ(pass(loader, 2).size(), 23u);  // after an abandoned pass
  }
  DatasetLoader failing(std::make_shared<Records>(23, 9), DatasetLoaderOptions().batch_size(4).num_workers(2));
  const auto message = error_of([&] { pass(failing, 0); });
  EXPECT_NE(message.find("sample"), std::string::npos);
  EXPECT_NE(message.find("bad record"), std::string::npos) << message;
}

// LibTorch's TensorDataset: Example<Tensor, NoTarget>, which the old adapter could not compile.
TEST(TorchDataLoader, TensorDatasetWithoutTargetsAndWorkersSurvivesUnfinishedPasses) {
  auto blobs = testing::make_blobs(64);
  auto features = torch::data::datasets::TensorDataset(blobs.x);
  auto loader = wrap_dataset<torch::data::samplers::SequentialSampler>(
      features, torch::data::DataLoaderOptions().batch_size(8).workers(2));
  EXPECT_EQ(loader->size(), 8);
  for (int round = 0; round < 3; ++round) {
    loader->start_epoch(round);
    auto batch = loader->next();
    ASSERT_TRUE(batch);
    EXPECT_TRUE(batch->is_tensor());
    EXPECT_EQ(batch->tensor().sizes(), torch::IntArrayRef({8, 4}));
  }
}

TEST(TorchDataLoader, AWorkerLoaderTrainsWithTheDefaultSanityCheckAndBatchLimits) {
  auto blobs = testing::make_blobs(96);
  auto train = wrap_dataset(testing::BlobExamples(blobs), torch::data::DataLoaderOptions().batch_size(8).workers(2));
  auto val = wrap_dataset<torch::data::samplers::SequentialSampler>(
      testing::BlobExamples(blobs), torch::data::DataLoaderOptions().batch_size(8).workers(2));
  testing::TinyClassifier model;
  TrainerOptions options = testing::quiet_options(3);
  options.limit_train_batches(0.5);  // a known length makes fractions work
  options.limit_val_batches(3);
  Trainer trainer(options);
  trainer.fit(model, *train, *val);  // the sanity check reads 2 of 12 validation batches
  EXPECT_EQ(trainer.global_step(), 18);
  const auto results = trainer.test(model, *val);
  EXPECT_GT(results.at("test_acc"), 0.9);
}

}  // namespace
}  // namespace fulgur

namespace fulgur {
namespace {

// A fit stopped mid-epoch and resumed from its checkpoint reads exactly the batches that were
// left (workers and a shuffle included) and ends with the uninterrupted run's weights.
TEST(DatasetLoader, AFitResumedMidEpochWithWorkersMatchesTheUninterruptedOne) {
  const auto dir = testing::temp_dir("dataset_loader_resume");
  auto blobs = testing::make_blobs(80, 4, 6);
  auto dataset = std::make_shared<LambdaDataset>(80, [blobs](int64_t i) {
    return Batch::list({blobs.x[i], blobs.y[i]});
  });
  const auto options_for = [](int64_t max_steps) {
    TrainerOptions options = testing::quiet_options(3);
    options.max_steps(max_steps);
    return options;
  };
  const auto loader_options = DatasetLoaderOptions().batch_size(8).shuffle(true).seed(3).num_workers(2);

  torch::manual_seed(1);
  testing::TinyClassifier whole_model;
  DatasetLoader whole_loader(dataset, loader_options);
  Trainer whole(options_for(-1));
  whole.fit(whole_model, whole_loader);

  torch::manual_seed(1);
  testing::TinyClassifier first_model;
  DatasetLoader first_loader(dataset, loader_options);
  Trainer first(options_for(14));  // stops at batch 4 of epoch 1
  first.fit(first_model, first_loader);
  first.save_checkpoint(dir + "/mid.ckpt");

  testing::TinyClassifier resumed_model;
  DatasetLoader resumed_loader(dataset, loader_options);
  Trainer resumed(options_for(-1));
  resumed.fit(resumed_model, resumed_loader, nullptr, dir + "/mid.ckpt");
  EXPECT_EQ(resumed.global_step(), 30);
  EXPECT_TRUE(torch::equal(testing::flat_parameters(resumed_model), testing::flat_parameters(whole_model)));
}

}  // namespace
}  // namespace fulgur
