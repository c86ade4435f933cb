// The ema plugin against Lightning's EMAWeightAveraging (ema_parity.py wrote Lightning's run):
// the same model, initial weights, data, order and optimizer, ema with Lightning's arguments.
// The final weights and the weights each validation saw must be Lightning's.
// Usage: ema_parity LIGHTNING.pt WORK_DIR
#include <cstdio>

#include <torch/torch.h>

#include "fulgur/plugins/ema.h"
#include "fulgur/state_dict.h"
#include "fulgur/tensor_data_loader.h"
#include "fulgur/trainer.h"

namespace {

torch::Tensor flat(torch::nn::Module& module) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : module.parameters()) parts.push_back(p.detach().flatten());
  return torch::cat(parts).clone();
}

struct Tiny : fulgur::Module {
  Tiny() { linear = register_module("linear", torch::nn::Linear(4, 2)); }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(linear(batch[0]), batch[1]);
  }
  torch::Tensor validation_step(const fulgur::Batch&, int64_t batch_idx) override {
    if (batch_idx == 0 && !trainer().sanity_checking()) validated.push_back(flat(*this));
    return {};
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.3));
  }
  torch::nn::Linear linear{nullptr};
  std::vector<torch::Tensor> validated;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: ema_parity LIGHTNING.pt WORK_DIR\n");
    return 2;
  }
  try {
    const auto file = fulgur::read_weights(argv[1]);
    auto tensor = [&](const char* key) { return file.at(key).toTensor(); };
    Tiny model;
    {
      torch::NoGradGuard no_grad;
      model.linear->weight.copy_(tensor("weight"));
      model.linear->bias.copy_(tensor("bias"));
    }
    fulgur::TensorDataLoaderOptions train_batches, val_batches;
    train_batches.batch_size(8);
    val_batches.batch_size(40);
    fulgur::TensorDataLoader train(tensor("x"), tensor("y"), train_batches);
    fulgur::TensorDataLoader val(tensor("x"), tensor("y"), val_batches);
    fulgur::TrainerOptions options;
    options.max_epochs(3);
    options.num_sanity_val_steps(0);
    options.enable_progress_bar(false);
    options.enable_model_summary(false);
    options.enable_checkpointing(false);
    fulgur::Trainer trainer(options);
    trainer.add_plugin(
        fulgur::plugins::EmaOptions{}.decay(0.8).update_every_n_steps(2).update_starting_at_step(1).spec());
    trainer.fit(model, train, val);
    const double final_diff = (flat(model) - tensor("final")).abs().max().item<double>();
    const auto validated = tensor("validated");
    double validated_diff = validated.size(0) == static_cast<int64_t>(model.validated.size()) ? 0.0 : 1e9;
    for (std::size_t i = 0; i < model.validated.size() && validated_diff < 1e9; ++i) {
      validated_diff = std::max(validated_diff,
                                (model.validated[i] - validated[static_cast<int64_t>(i)]).abs().max().item<double>());
    }
    std::printf("ema vs Lightning's EMAWeightAveraging: final weights differ by %.3g, validation weights by %.3g\n",
                final_diff, validated_diff);
    return final_diff < 1e-6 && validated_diff < 1e-6 ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
