// bench/data: how fast loaders feed a training loop when every sample costs real CPU work.
//
// The dataset's get(i) takes the sine of N values and sorts them (N calibrated to about 200 us on
// one core, printed; no BLAS, whose pthread build serialises calls from several threads) and
// returns the 64 smallest as features and a label; batches of 64. Samples/s for
// fulgur's DatasetLoader and LibTorch's own loader with 0, 1 and 2 workers, in this process;
// bench/data/run.sh adds PyTorch's Python DataLoader doing the same work (data.py).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "fulgur/data.h"

namespace {

using Clock = std::chrono::steady_clock;

// The work of one sample: sin of N values, sorted, the 64 smallest kept (single-threaded).
struct Work {
  torch::Tensor base;
  explicit Work(int64_t n) {
    torch::manual_seed(0);
    base = torch::randn({n});
  }
  std::pair<torch::Tensor, torch::Tensor> sample(int64_t i) const {
    auto values = torch::sin(base * static_cast<double>(1 + i % 7));
    auto features = std::get<0>(values.sort()).narrow(0, 0, 64).clone();
    return {features, torch::tensor(i % 10, torch::kLong)};
  }
};

class FulgurWork : public fulgur::Dataset {
 public:
  FulgurWork(const Work& work, int64_t size) : work_(work), size_(size) {}
  fulgur::Batch get(int64_t i) override {
    auto [x, y] = work_.sample(i);
    return fulgur::Batch::list({x, y});
  }
  int64_t size() const override { return size_; }

 private:
  const Work& work_;
  int64_t size_;
};

class TorchWork : public torch::data::datasets::Dataset<TorchWork> {
 public:
  TorchWork(const Work& work, int64_t size) : work_(&work), size_(size) {}
  torch::data::Example<> get(size_t i) override {
    auto [x, y] = work_->sample(static_cast<int64_t>(i));
    return {x, y};
  }
  torch::optional<size_t> size() const override { return static_cast<size_t>(size_); }

 private:
  const Work* work_;
  int64_t size_;
};

// Samples per second over one pass, consuming each batch as a step would (a sum).
template <typename Pass>
double samples_per_second(int64_t samples, int rounds, Pass&& pass) {
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    const int64_t seen = pass();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (seen != samples)
      throw std::runtime_error("a pass saw " + std::to_string(seen) + " samples, not " + std::to_string(samples));
    best = std::max(best, samples / seconds);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench/data: loader throughput with CPU-heavy samples"};
  int64_t n = 0, batches = 40, batch_size = 64;
  double target_us = 200;
  int rounds = 3;
  std::string workers_list = "0,1,2";
  app.add_option("--size", n, "Values per sample N (0: calibrate to --target-us)");
  app.add_option("--target-us", target_us, "CPU time per sample to calibrate to");
  app.add_option("--batches", batches, "Batches per pass");
  app.add_option("--rounds", rounds, "Passes per measurement (the best is kept)");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);  // one core per worker, as PyTorch's workers run

  auto per_sample_us = [&](int64_t size) {
    const Work work(size);
    for (int i = 0; i < 5; ++i) work.sample(i);
    const auto start = Clock::now();
    for (int i = 0; i < 50; ++i) work.sample(i);
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / 50;
  };
  if (n != 0 && n < 64) throw std::invalid_argument("--size must be at least 64 (a sample keeps 64 values)");
  if (n == 0) {
    n = 64;
    while (per_sample_us(n) < target_us && n < (1 << 22)) n += n / 8;
  }
  const double cost = per_sample_us(n);
  const Work work(n);
  const int64_t samples = batches * batch_size;
  std::printf(
      "work: sin and sort of %lld values per sample, %.0f us; %lld samples of batch %lld per pass; best of %d\n",
      static_cast<long long>(n), cost, static_cast<long long>(samples), static_cast<long long>(batch_size), rounds);
  std::printf("size %lld\n", static_cast<long long>(n));

  // Rounds alternate between the two loaders, so that a machine that slows down or speeds up
  // during the run affects both alike.
  double fulgur_zero = 0;
  for (int64_t workers : {0, 1, 2}) {
    auto dataset = std::make_shared<FulgurWork>(work, samples);
    fulgur::DatasetLoader ours(
        dataset, fulgur::DatasetLoaderOptions().batch_size(batch_size).shuffle(true).num_workers(workers));
    auto theirs =
        torch::data::make_data_loader(TorchWork(work, samples).map(torch::data::transforms::Stack<>()),
                                      torch::data::DataLoaderOptions().batch_size(batch_size).workers(workers));
    int64_t epoch = 0;
    double best_ours = 0, best_theirs = 0;
    for (int r = 0; r < rounds; ++r) {
      best_ours = std::max(best_ours, samples_per_second(samples, 1, [&] {
                             ours.start_epoch(epoch++);
                             int64_t seen = 0;
                             while (auto batch = ours.next()) {
                               (*batch)[0].sum();
                               seen += (*batch)[0].size(0);
                             }
                             return seen;
                           }));
      best_theirs = std::max(best_theirs, samples_per_second(samples, 1, [&] {
                               int64_t seen = 0;
                               for (auto& batch : *theirs) {
                                 batch.data.sum();
                                 seen += batch.data.size(0);
                               }
                               return seen;
                             }));
    }
    if (workers == 0) fulgur_zero = best_ours;
    std::printf("fulgur DatasetLoader   workers %lld  %8.0f samples/s  (%.2fx its 0-worker rate, %.2fx LibTorch's)\n",
                static_cast<long long>(workers), best_ours, best_ours / fulgur_zero, best_ours / best_theirs);
    std::printf("LibTorch DataLoader    workers %lld  %8.0f samples/s\n", static_cast<long long>(workers), best_theirs);
  }
  return 0;
}
