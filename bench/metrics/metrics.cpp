// bench/metrics: time per update and per epoch compute of Accuracy, macro F1 and AUROC
// (multiclass, batch 4096, 100 classes), as bench/metrics/metrics.py times torchmetrics'.
// bench/metrics/run.sh runs both and prints the ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "fulgur/metrics.h"

namespace {

namespace metrics = fulgur::metrics;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_metrics: metric update and compute times"};
  int64_t batch = 4096, classes = 100, updates = 50, epochs = 5, threads = 0;
  app.add_option("--batch", batch);
  app.add_option("--classes", classes);
  app.add_option("--updates", updates, "Updates per epoch");
  app.add_option("--epochs", epochs, "Epochs (the first is a warm-up)");
  app.add_option("--threads", threads, "torch threads (0: LibTorch's default)");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  std::vector<torch::Tensor> logits, labels;
  for (int i = 0; i < 8; ++i) {
    logits.push_back(torch::randn({batch, classes}));
    labels.push_back(torch::randint(0, classes, {batch}));
  }
  const auto options = metrics::ClassificationOptions().task("multiclass").num_classes(classes);
  struct Case {
    const char* name;
    std::shared_ptr<metrics::PredsTargetMetric> metric;
  };
  std::vector<Case> cases = {
      {"accuracy", std::make_shared<metrics::Accuracy>(options)},
      {"f1_macro", std::make_shared<metrics::F1Score>(metrics::ClassificationOptions(options).average("macro"))},
      {"auroc", std::make_shared<metrics::AUROC>(options)},
  };
  std::printf("fulgur metrics: LibTorch %s, %d threads, batch %lld, %lld classes, %lld updates per epoch\n",
              TORCH_VERSION, torch::get_num_threads(), static_cast<long long>(batch), static_cast<long long>(classes),
              static_cast<long long>(updates));
  for (auto& [name, metric] : cases) {
    std::vector<double> update_us, compute_ms;
    double checksum = 0;
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      for (int64_t i = 0; i < updates; ++i) {
        const auto start = Clock::now();
        metric->update(logits[i % 8], labels[i % 8]);
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
        if (epoch > 0) update_us.push_back(us);
      }
      const auto start = Clock::now();
      checksum += metric->compute().item<double>();
      metric->reset();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (epoch > 0) compute_ms.push_back(ms);
    }
    std::printf("fulgur %-9s update %9.1f us   compute %9.2f ms   (value %.6f)\n", name, median(update_us),
                median(compute_ms), checksum / static_cast<double>(epochs));
  }
  return 0;
}
