// The swa plugin against Lightning's StochasticWeightAveraging (swa_parity.py wrote Lightning's
// runs): the same models, initial weights, data, order, optimizer and scheduler, swa with
// Lightning's arguments. Each case's final weights, BatchNorm statistics and learning rate must
// be Lightning's.
// Usage: swa_parity LIGHTNING.pt WORK_DIR
#include <cstdio>

#include <torch/torch.h>

#include "fulgur/lr_schedulers.h"
#include "fulgur/plugins/swa.h"
#include "fulgur/state_dict.h"
#include "fulgur/tensor_data_loader.h"
#include "fulgur/trainer.h"

namespace {

struct Case {
  const char* name;
  bool batch_norm;
  int64_t max_epochs;
  double swa_epoch_start;
  int64_t annealing_epochs;
  const char* strategy;
  double swa_lr;
  bool step_lr;
};

// The same cases, in the same order, as swa_parity.py.
const Case kCases[] = {
    {"batchnorm_cos_int_start", true, 6, 3, 2, "cos", 0.05, true},
    {"plain_linear_fraction_start", false, 5, 0.4, 6, "linear", 0.02, false},
    {"batchnorm_no_annealing", true, 4, 2, 0, "cos", 0.01, true},
};

struct Net : fulgur::Module {
  Net(bool batch_norm, bool step_lr) : step_lr(step_lr) {
    net = register_module("net", torch::nn::Sequential());
    net->push_back(torch::nn::Linear(4, 8));
    if (batch_norm) net->push_back(torch::nn::BatchNorm1d(8));
    net->push_back(torch::nn::ReLU());
    net->push_back(torch::nn::Linear(8, 2));
  }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
  }
  torch::Tensor validation_step(const fulgur::Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(net->forward(batch[0]), batch[1]);
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.2).momentum(0.9));
    fulgur::OptimizerConfig config(sgd);
    if (step_lr) config.lr_schedulers.push_back({std::make_shared<fulgur::StepLR>(*sgd, 1, 0.8)});
    return config;
  }
  torch::nn::Sequential net{nullptr};
  bool step_lr;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: swa_parity LIGHTNING.pt WORK_DIR\n");
    return 2;
  }
  try {
    const auto file = fulgur::read_weights(argv[1]);
    const auto x = file.at("x").toTensor();
    const auto y = file.at("y").toTensor();
    bool all_equal = true;
    for (const Case& c : kCases) {
      const std::string name = c.name;
      Net model(c.batch_norm, c.step_lr);
      const auto init = file.at(name + "/init").toGenericDict();
      {
        torch::NoGradGuard no_grad;
        for (auto& item : model.net->named_parameters()) item.value().copy_(init.at(item.key()).toTensor());
        for (auto& item : model.net->named_buffers()) item.value().copy_(init.at(item.key()).toTensor());
      }
      fulgur::TensorDataLoaderOptions train_batches, val_batches;
      train_batches.batch_size(8);
      val_batches.batch_size(48);
      fulgur::TensorDataLoader train(x, y, train_batches);
      fulgur::TensorDataLoader val(x, y, val_batches);
      fulgur::TrainerOptions options;
      options.max_epochs(c.max_epochs);
      options.num_sanity_val_steps(0);
      options.enable_progress_bar(false);
      options.enable_model_summary(false);
      options.enable_checkpointing(false);
      fulgur::Trainer trainer(options);
      trainer.add_plugin(fulgur::plugins::SwaOptions{}
                             .swa_lrs({c.swa_lr})
                             .swa_epoch_start(c.swa_epoch_start)
                             .annealing_epochs(c.annealing_epochs)
                             .annealing_strategy(c.strategy)
                             .spec());
      trainer.fit(model, train, val);

      const auto final_state = file.at(name + "/final").toGenericDict();
      double weight_diff = 0;
      for (const auto& item : model.net->named_parameters()) {
        weight_diff =
            std::max(weight_diff, (item.value() - final_state.at(item.key()).toTensor()).abs().max().item<double>());
      }
      double buffer_diff = 0;
      for (const auto& item : model.net->named_buffers()) {
        const auto expected = final_state.at(item.key()).toTensor();
        buffer_diff = std::max(
            buffer_diff, (item.value().to(torch::kDouble) - expected.to(torch::kDouble)).abs().max().item<double>());
      }
      const double lr = trainer.optimizers().at(0)->param_groups().at(0).options().get_lr();
      const double lr_diff = std::abs(lr - file.at(name + "/lr").toTensor().item<double>());
      const int64_t lightning_steps = file.at(name + "/global_step").toTensor().item<int64_t>();
      const bool equal =
          weight_diff < 1e-5 && buffer_diff < 1e-5 && lr_diff < 1e-12 && trainer.global_step() == lightning_steps;
      all_equal = all_equal && equal;
      std::printf(
          "swa vs Lightning's StochasticWeightAveraging, %s: weights differ by %.3g, BatchNorm statistics by "
          "%.3g, final lr %.6g (differs by %.3g), global_step %lld / %lld: %s\n",
          c.name, weight_diff, buffer_diff, lr, lr_diff, static_cast<long long>(trainer.global_step()),
          static_cast<long long>(lightning_steps), equal ? "equal" : "DIFFERENT");
    }
    return all_equal ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
