// What a Lightning user's code sees around a run, against Lightning (run_lifecycle.py wrote its
// answers): the DataModule's calls when a fit resumes — its state restored before it is asked for
// a loader — and the Module's properties after fit (the Trainer stays attached).
// Usage: run_lifecycle LIGHTNING.json WORK_DIR
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fulgur/data_module.h"
#include "fulgur/tensor_data_loader.h"
#include "fulgur/trainer.h"

namespace {

struct Data : fulgur::DataModule {
  Data(torch::Tensor x, torch::Tensor y) : x(std::move(x)), y(std::move(y)) {}
  void prepare_data() override { calls.push_back("prepare_data"); }
  void setup(fulgur::Stage stage) override { calls.push_back("setup:" + std::string(fulgur::to_string(stage))); }
  fulgur::DataLoaders train_dataloader() override {
    calls.push_back("train_dataloader(served=" + std::to_string(served) + ")");
    ++served;
    fulgur::TensorDataLoaderOptions options;
    options.batch_size(8);
    return std::make_unique<fulgur::TensorDataLoader>(x, y, options);
  }
  fulgur::StateDict state_dict() override {
    auto state = fulgur::make_state_dict();
    state.insert("served", served);
    return state;
  }
  void load_state_dict(const fulgur::StateDict& state) override {
    calls.push_back("load_state_dict(served=" + std::to_string(state.at("served").toInt()) + ")");
    served = state.at("served").toInt();
  }
  void teardown(fulgur::Stage stage) override { calls.push_back("teardown:" + std::string(fulgur::to_string(stage))); }

  torch::Tensor x, y;
  int64_t served = 0;
  std::vector<std::string> calls;
};

struct Tiny : fulgur::Module {
  Tiny() { linear = register_module("linear", torch::nn::Linear(4, 2)); }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    return torch::nn::functional::cross_entropy(linear(batch[0]), batch[1]);
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  torch::nn::Linear linear{nullptr};
};

fulgur::TrainerOptions options(int64_t epochs, const std::string& work) {
  fulgur::TrainerOptions o;
  o.max_epochs(epochs);
  o.enable_checkpointing(false);
  o.enable_progress_bar(false);
  o.enable_model_summary(false);
  o.accelerator("cpu");
  o.default_root_dir(work);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: run_lifecycle LIGHTNING.json WORK_DIR\n");
    return 2;
  }
  const auto lightning = nlohmann::json::parse(std::ifstream(argv[1]));
  const std::string work = argv[2];
  torch::manual_seed(3);
  const auto x = torch::randn({64, 4});
  const auto y = (x.select(1, 0) > 0).to(torch::kLong);

  Tiny model;
  Data first_data(x, y);
  fulgur::Trainer first(options(1, work));
  first.fit(model, first_data);
  first.save_checkpoint(work + "/fulgur_one_epoch.ckpt");

  Data data(x, y);
  Tiny resumed;
  fulgur::Trainer second(options(2, work));
  second.fit(resumed, data, work + "/fulgur_one_epoch.ckpt");

  const nlohmann::json ours = {{"resume_calls", data.calls},
                               {"after_fit",
                                {{"current_epoch", resumed.current_epoch()},
                                 {"global_step", resumed.global_step()},
                                 {"trainer_attached", resumed.has_trainer()},
                                 {"datamodule_trainer_attached", data.trainer() != nullptr}}}};
  std::printf("Lightning: %s\nfulgur:    %s\n", lightning.dump().c_str(), ours.dump().c_str());
  if (ours != lightning) {
    std::printf("DIFFERENT: %s\n", nlohmann::json::diff(lightning, ours).dump().c_str());
    return 1;
  }
  std::printf("the same resume order and post-fit properties as Lightning\n");
  return 0;
}
