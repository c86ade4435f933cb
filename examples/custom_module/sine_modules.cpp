// A Module and a DataModule in a library of their own, for the `fulgur` command: a small MLP
// learns y = sin(x) on [-pi, pi]. SineNet writes no configure_optimizers: the optimizer comes
// from the command line or the config (--optimizer Adam --optimizer.lr 0.01), as LightningCLI's.
#include <cmath>

#include <torch/torch.h>

#include "fulgur/component_registry.h"
#include "fulgur/data.h"
#include "fulgur/hparam_spec.h"

namespace sine {

class SineNet : public fulgur::Module {
 public:
  static fulgur::HParamSpecs declare_hparams() { return {{"hidden", 32, "Hidden units of the two layers"}}; }

  explicit SineNet(const fulgur::HParams& hparams) {
    const int64_t hidden = hparams.get<int64_t>("hidden");
    net_ = register_module(
        "net", torch::nn::Sequential(torch::nn::Linear(1, hidden), torch::nn::Tanh(), torch::nn::Linear(hidden, hidden),
                                     torch::nn::Tanh(), torch::nn::Linear(hidden, 1)));
  }

  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = torch::mse_loss(net_->forward(batch[0]), batch[1]);
    log("train_loss", loss);
    return loss;
  }
  torch::Tensor validation_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = torch::mse_loss(net_->forward(batch[0]), batch[1]);
    log("val_loss", loss);
    return loss;
  }
  torch::Tensor test_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = torch::mse_loss(net_->forward(batch[0]), batch[1]);
    log("test_loss", loss);
    return loss;
  }

 private:
  torch::nn::Sequential net_{nullptr};
};

class SineData : public fulgur::DataModule {
 public:
  static fulgur::HParamSpecs declare_hparams() {
    return {{"samples", 1024, "Training points"}, {"batch_size", 64, "Points per batch"}};
  }
  explicit SineData(const fulgur::HParams& hparams)
      : samples_(hparams.get<int64_t>("samples")), batch_size_(hparams.get<int64_t>("batch_size")) {}

  void setup(fulgur::Stage) override {
    if (train_x_.defined()) return;
    train_x_ = torch::rand({samples_, 1}) * 2 * M_PI - M_PI;
    test_x_ = torch::linspace(-M_PI, M_PI, 256).unsqueeze(1);
  }
  fulgur::DataLoaders train_dataloader() override { return loader(train_x_, true); }
  fulgur::DataLoaders val_dataloader() override { return loader(test_x_, false); }
  fulgur::DataLoaders test_dataloader() override { return loader(test_x_, false); }

 private:
  fulgur::DataLoaders loader(const torch::Tensor& x, bool shuffle) const {
    return std::make_unique<fulgur::TensorDataLoader>(
        x, torch::sin(x), fulgur::TensorDataLoaderOptions().batch_size(batch_size_).shuffle(shuffle));
  }

  int64_t samples_, batch_size_;
  torch::Tensor train_x_, test_x_;
};

}  // namespace sine

FULGUR_REGISTER_MODULE(sine::SineNet)
FULGUR_REGISTER_DATAMODULE(sine::SineData)
FULGUR_EXPORT_MODULES()
