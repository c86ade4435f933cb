// A program built against the installed fulgur: fits a line y = 3x - 1 and takes the Trainer's
// options (plugins included) from its command line.
#include <cstdio>

#include <torch/torch.h>

#include "fulgur/command_line.h"
#include "fulgur/trainer.h"

namespace {

struct Line : fulgur::Module {
  Line() { linear = register_module("linear", torch::nn::Linear(1, 1)); }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = torch::mse_loss(linear(batch[0]), batch[1]);
    log("train_loss", loss);
    return loss;
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  torch::nn::Linear linear{nullptr};
};

}  // namespace

int main(int argc, char** argv) {
  try {
    auto options = fulgur::parse_trainer_options(argc, argv);
    if (!options.max_epochs()) options.max_epochs() = 20;
    fulgur::seed_everything(0);
    const auto x = torch::linspace(-1, 1, 64).unsqueeze(1);
    fulgur::TensorDataLoaderOptions loader_options;
    loader_options.batch_size(16);
    loader_options.shuffle(true);
    fulgur::TensorDataLoader loader(x, 3 * x - 1, loader_options);
    Line model;
    fulgur::Trainer trainer(options);
    trainer.fit(model, loader);
    std::printf("plugins: ");
    for (const auto& name : trainer.plugin_names()) std::printf("%s ", name.c_str());
    std::printf("\nslope %.3f intercept %.3f\n", model.linear->weight.item<double>(),
                model.linear->bias.item<double>());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
