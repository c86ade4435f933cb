// fulgur's LR finder against Lightning's lr_find (lr_find_parity.py wrote Lightning's sweeps):
// the same model, initial weights, data, order and optimizer. The rates tried, the smoothed
// losses and the suggestion must be Lightning's; the curve is drawn into the work folder.
// Usage: lr_find_parity LIGHTNING.pt WORK_DIR
#include <cstdio>

#include <torch/torch.h>

#include "fulgur/state_dict.h"
#include "fulgur/tensor_data_loader.h"
#include "fulgur/tuner.h"

namespace {

struct Case {
  const char* name;
  const char* mode;
  double min_lr;
  double max_lr;
  int64_t num_training;
};

// The same cases, in the same order, as lr_find_parity.py.
const Case kCases[] = {{"exponential", "exponential", 1e-5, 10.0, 60}, {"linear", "linear", 1e-3, 2.0, 40}};

struct Net : fulgur::Module {
  Net() {
    net = register_module("net",
                          torch::nn::Sequential(torch::nn::Linear(4, 16), torch::nn::Tanh(), torch::nn::Linear(16, 2)));
  }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  }
  torch::nn::Sequential net{nullptr};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: lr_find_parity LIGHTNING.pt WORK_DIR\n");
    return 2;
  }
  try {
    const auto file = fulgur::read_weights(argv[1]);
    bool all_equal = true;
    for (const Case& c : kCases) {
      const std::string name = c.name;
      Net model;
      const auto init = file.at(name + "/init").toGenericDict();
      {
        torch::NoGradGuard no_grad;
        for (auto& item : model.net->named_parameters()) item.value().copy_(init.at(item.key()).toTensor());
      }
      fulgur::TensorDataLoaderOptions batches;
      batches.batch_size(8);
      fulgur::TensorDataLoader train(file.at("x").toTensor(), file.at("y").toTensor(), batches);
      fulgur::TrainerOptions options;
      options.max_epochs(5);
      options.enable_progress_bar(false);
      options.enable_model_summary(false);
      options.enable_checkpointing(false);
      fulgur::Tuner tuner(options);
      const auto finder = tuner.lr_find(model, train, {},
                                        fulgur::LRFindOptions()
                                            .min_lr(c.min_lr)
                                            .max_lr(c.max_lr)
                                            .num_training(c.num_training)
                                            .mode(c.mode)
                                            .plot_path(std::string(argv[2]) + "/lr_find_" + name + ".svg"));
      const auto lrs = file.at(name + "/lrs").toTensor();
      const auto losses = file.at(name + "/losses").toTensor();
      const bool same_length = lrs.size(0) == static_cast<int64_t>(finder.lrs().size()) &&
                               losses.size(0) == static_cast<int64_t>(finder.losses().size());
      double lr_diff = same_length ? 0.0 : 1e9, loss_diff = same_length ? 0.0 : 1e9;
      for (std::size_t i = 0; same_length && i < finder.lrs().size(); ++i) {
        const double lr = lrs[static_cast<int64_t>(i)].item<double>();
        lr_diff = std::max(lr_diff, std::abs(finder.lrs()[i] - lr) / lr);
        const double loss = losses[static_cast<int64_t>(i)].item<double>();
        loss_diff = std::max(loss_diff, std::abs(finder.losses()[i] - loss) / std::max(1.0, std::abs(loss)));
      }
      const double expected = file.at(name + "/suggestion").toTensor().item<double>();
      const double suggestion = finder.suggestion().value_or(-1.0);
      const bool equal = same_length && lr_diff < 1e-12 && loss_diff < 1e-4 &&
                         std::abs(suggestion - expected) <= 1e-12 * std::abs(expected);
      all_equal = all_equal && equal;
      std::printf(
          "lr_find vs Lightning's, %s: %zu points (Lightning %lld), rates differ by %.3g, smoothed losses by "
          "%.3g (relative), suggestion %.6g (Lightning %.6g): %s\n",
          c.name, finder.lrs().size(), static_cast<long long>(lrs.size(0)), lr_diff, loss_diff, suggestion, expected,
          equal ? "equal" : "DIFFERENT");
    }
    return all_equal ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
