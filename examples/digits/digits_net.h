// The digits model: an MLP over the 64 pixels, as the digits example trains it and the
// digits_predict program loads it back from a checkpoint.
#pragma once

#include <torch/torch.h>

#include "fulgur/hparam_spec.h"
#include "fulgur/metrics.h"
#include "fulgur/module.h"

namespace digits {

class DigitsNet : public fulgur::Module {
 public:
  DigitsNet(int64_t hidden, double lr) : lr_(lr) {
    input_ = register_module("input", torch::nn::Linear(64, hidden));
    output_ = register_module("output", torch::nn::Linear(hidden, 10));
    // Accuracy and macro F1 from the metrics library: they count the whole epoch's samples (of
    // every process under ddp), and share one confusion matrix.
    val_metrics_ = register_module("val_metrics", make_metrics("val_"));
    test_metrics_ = register_module("test_metrics", make_metrics("test_"));
    save_hyperparameters({{"hidden", hidden}, {"lr", lr}});
  }

  /// Its arguments, for fulgur::cli (--hidden, --model.lr, `model: {init_args: {...}}`).
  static fulgur::HParamSpecs declare_hparams() {
    return {{"hidden", 128, "Hidden units"}, {"lr", 3e-3, "Adam's learning rate"}};
  }

  /// What load_from_checkpoint<DigitsNet> and fulgur::cli call with the hyper-parameters.
  explicit DigitsNet(const fulgur::HParams& hparams)
      : DigitsNet(hparams.get<int64_t>("hidden"), hparams.get<double>("lr")) {}

  torch::Tensor forward(const torch::Tensor& x) { return output_(torch::relu(input_(x))); }

  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
    log("train_loss", loss, fulgur::LogOptions().prog_bar(true));
    return loss;
  }

  torch::Tensor validation_step(const fulgur::Batch& batch, int64_t) override {
    auto logits = forward(batch[0]);
    // sync_dist: under --strategy ddp the values are averaged over the processes (a no-op alone).
    log("val_loss", torch::nn::functional::cross_entropy(logits, batch[1]), fulgur::LogOptions().sync_dist(true));
    val_metrics_->update(logits, batch[1]);
    log_dict(val_metrics_, fulgur::LogOptions().prog_bar(true));  // val_acc, val_f1
    return logits;
  }

  torch::Tensor test_step(const fulgur::Batch& batch, int64_t) override {
    auto logits = forward(batch[0]);
    log("test_loss", torch::nn::functional::cross_entropy(logits, batch[1]), fulgur::LogOptions().sync_dist(true));
    test_metrics_->update(logits, batch[1]);
    log_dict(test_metrics_);  // test_acc, test_f1
    return logits;
  }

  torch::Tensor predict_step(const fulgur::Batch& batch, int64_t) override { return forward(batch[0]).argmax(1); }

  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(lr_));
  }

  static torch::Tensor accuracy(const torch::Tensor& logits, const torch::Tensor& target) {
    return (logits.argmax(1) == target).to(torch::kFloat).mean();
  }

 private:
  static std::shared_ptr<fulgur::metrics::MetricCollection> make_metrics(const std::string& prefix) {
    namespace metrics = fulgur::metrics;
    const auto ten_classes = metrics::ClassificationOptions().task("multiclass").num_classes(10);
    auto collection = std::make_shared<metrics::MetricCollection>(prefix);
    collection->add("acc", std::make_shared<metrics::Accuracy>(ten_classes));
    collection->add("f1",
                    std::make_shared<metrics::F1Score>(metrics::ClassificationOptions(ten_classes).average("macro")));
    return collection;
  }

  torch::nn::Linear input_{nullptr}, output_{nullptr};
  std::shared_ptr<fulgur::metrics::MetricCollection> val_metrics_, test_metrics_;
  double lr_;
};

}  // namespace digits
