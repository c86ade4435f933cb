// Validates a fixed model with metric objects logged, as one process or as several under ddp,
// and prints the logged values. Each process reads its own, uneven, part of 50 samples (rank 0
// the first 37 in batches of 8, rank 1 the other 13): the synced values must equal one process's
// over all 50. Run by metrics_ddp_test.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "fulgur/command_line.h"
#include "fulgur/data.h"
#include "fulgur/metrics.h"
#include "fulgur/trainer.h"

namespace {

namespace metrics = fulgur::metrics;

constexpr int64_t kSamples = 50;
constexpr int64_t kFirstRankSamples = 37;

struct Data {
  torch::Tensor x, label, value;
};

Data make_data() {
  torch::manual_seed(21);
  Data data;
  data.x = torch::randn({kSamples, 4});
  data.label = torch::randint(0, 3, {kSamples});
  data.value = data.x.sum(1) + 0.5 * torch::randn({kSamples});
  return data;
}

// Batches of 8 over this process's samples (all of them alone; its part of them under ddp).
class Shares : public fulgur::DataLoader {
 public:
  explicit Shares(Data data) : data_(std::move(data)) {}
  void shard(int64_t rank, int64_t world_size) override {
    if (world_size != 2) throw fulgur::Error("this worker splits its samples between 2 processes");
    begin_ = rank == 0 ? 0 : kFirstRankSamples;
    end_ = rank == 0 ? kFirstRankSamples : kSamples;
  }
  void start_epoch(int64_t) override { next_ = begin_; }
  std::optional<fulgur::Batch> next() override {
    if (next_ >= end_) return std::nullopt;
    const int64_t stop = std::min(next_ + 8, end_);
    fulgur::Batch batch = fulgur::Batch::list(
        {data_.x.slice(0, next_, stop), data_.label.slice(0, next_, stop), data_.value.slice(0, next_, stop)});
    next_ = stop;
    return batch;
  }
  std::optional<int64_t> size() const override { return (end_ - begin_ + 7) / 8; }

 private:
  Data data_;
  int64_t begin_ = 0, end_ = kSamples, next_ = 0;
};

metrics::ClassificationOptions three_classes() {
  return metrics::ClassificationOptions().task("multiclass").num_classes(3);
}

class Scored : public fulgur::Module {
 public:
  Scored() {
    torch::manual_seed(5);
    linear = register_module("linear", torch::nn::Linear(4, 4));
    accuracy = register_module("acc", std::make_shared<metrics::Accuracy>(three_classes()));
    auroc = register_module("auroc", std::make_shared<metrics::AUROC>(three_classes()));
    pearson = register_module("pearson", std::make_shared<metrics::PearsonCorrCoef>());
    spearman = register_module("spearman", std::make_shared<metrics::SpearmanCorrCoef>());
    mean = register_module("mean_error", std::make_shared<metrics::MeanMetric>());
    maximum = register_module("max_error", std::make_shared<metrics::MaxMetric>());
    group = register_module("group", std::make_shared<metrics::MetricCollection>());
    group->add("f1", std::make_shared<metrics::F1Score>(three_classes().average(std::string("macro"))));
    group->add("precision", std::make_shared<metrics::Precision>(three_classes().average(std::string("weighted"))));
  }
  torch::Tensor training_step(const fulgur::Batch&, int64_t) override { return torch::Tensor(); }
  torch::Tensor validation_step(const fulgur::Batch& batch, int64_t) override {
    auto [x, label, value] = batch.unpack<3>();
    const auto out = linear(x);
    const auto logits = out.slice(1, 0, 3);
    const auto estimate = out.select(1, 3);
    accuracy->update(logits, label);
    auroc->update(logits, label);
    pearson->update(estimate, value);
    spearman->update(estimate, value);
    mean->update((estimate - value).abs());
    maximum->update((estimate - value).abs());
    group->update(logits, label);
    for (auto* name : {"acc", "auroc", "pearson", "spearman", "mean_error", "max_error"}) {
      log(name, *std::dynamic_pointer_cast<fulgur::LoggableMetric>(named_children()[name]));
    }
    log_dict(group);
    return torch::Tensor();
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), 0.1);
  }

  torch::nn::Linear linear{nullptr};
  std::shared_ptr<metrics::Accuracy> accuracy;
  std::shared_ptr<metrics::AUROC> auroc;
  std::shared_ptr<metrics::PearsonCorrCoef> pearson;
  std::shared_ptr<metrics::SpearmanCorrCoef> spearman;
  std::shared_ptr<metrics::MeanMetric> mean;
  std::shared_ptr<metrics::MaxMetric> maximum;
  std::shared_ptr<metrics::MetricCollection> group;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"metrics ddp worker"};
  fulgur::TrainerOptions options;
  auto flags = fulgur::add_trainer_options(app, options);
  CLI11_PARSE(app, argc, argv);
  try {
    fulgur::finish_trainer_options(*flags, options);
    options.enable_progress_bar(false);
    options.enable_model_summary(false);
    options.enable_checkpointing(false);
    options.accelerator("cpu");
    torch::set_num_threads(1);
    Scored model;
    Shares loader(make_data());
    fulgur::Trainer trainer(options);
    trainer.validate(model, loader);
    for (auto* name : {"acc", "auroc", "pearson", "spearman", "mean_error", "max_error", "f1", "precision"}) {
      std::printf("rank %lld %s %.7f\n", static_cast<long long>(trainer.global_rank()), name,
                  trainer.metrics().value(name).value_or(-1.0));
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
