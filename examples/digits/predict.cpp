// Inference in a new process: the digits model rebuilt from a checkpoint the digits example
// wrote, with no Trainer and no helper code: load_from_checkpoint builds DigitsNet from the
// saved hyper-parameters, loads the weights and returns it in eval mode.
//
//   build/examples/digits/digits_predict --ckpt-path build/digits/lightning_logs/version_0/checkpoints/epoch=29-step=1200.ckpt
//   build/examples/digits/digits_predict --ckpt-path ... --save-weights digits.safetensors   # for Python
#include <cstdio>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "digits_data.h"
#include "digits_net.h"
#include "fulgur/checkpoint.h"
#include "fulgur/load_from_checkpoint.h"
#include "fulgur/state_dict.h"

int main(int argc, char** argv) {
  CLI::App app{"digits_predict: test accuracy of a digits checkpoint, in a process of its own"};
  std::string ckpt_path, data_path = FULGUR_DIGITS_DATA, weights_path;
  app.add_option("--ckpt-path", ckpt_path, "A checkpoint the digits example wrote")->required();
  app.add_option("--data", data_path, "The digits CSV (gzip)");
  app.add_option("--save-weights", weights_path, "Also write the weights (.pt or .safetensors) for Python");
  std::string export_path;
  app.add_option("--export-data", export_path,
                 "Also write the standardised train/val/test tensors (a torch.save dict) for Python");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto model = fulgur::load_from_checkpoint<digits::DigitsNet>(ckpt_path);
    auto data = digits::load(data_path);  // the same split and standardisation as training
    digits::standardize(data);
    torch::NoGradGuard no_grad;
    const auto accuracy = digits::DigitsNet::accuracy(model->forward(data.test.x), data.test.y);
    std::printf("hparams: hidden=%lld lr=%g\n", static_cast<long long>(model->hparams().get<int64_t>("hidden")),
                model->hparams().get<double>("lr"));
    std::printf("test_acc: %.4f\n", accuracy.item<double>());
    if (!export_path.empty()) {
      fulgur::StateDict splits = fulgur::make_state_dict();
      for (const auto& [name, split] :
           {std::pair<const char*, digits::Split*>{"train", &data.train}, {"val", &data.val}, {"test", &data.test}}) {
        splits.insert(std::string(name) + "_x", split->x);
        splits.insert(std::string(name) + "_y", split->y);
      }
      fulgur::write_checkpoint(splits, export_path);  // a dict of tensors, as torch.save writes it
      std::printf("data: %s\n", export_path.c_str());
    }
    if (!weights_path.empty()) {
      fulgur::save_weights(*model, weights_path);
      std::printf("weights: %s\n", weights_path.c_str());
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
