// Logging as a Lightning user writes it, against Lightning (validation_logging.py wrote its run):
// the same model, weights, data, log calls, epoch scheduler and lr_monitor with its default
// interval. fulgur's metrics.csv must have Lightning's columns in Lightning's order and the same
// rows (cells filled alike, values within 1e-5), and callback_metrics the same keys.
// Usage: validation_logging LIGHTNING.pt WORK_DIR
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "fulgur/logger.h"
#include "fulgur/lr_schedulers.h"
#include "fulgur/state_dict.h"
#include "fulgur/tensor_data_loader.h"
#include "fulgur/trainer.h"

namespace {

namespace F = torch::nn::functional;

struct Logged : fulgur::Module {
  Logged() { linear = register_module("linear", torch::nn::Linear(4, 2)); }
  torch::Tensor training_step(const fulgur::Batch& batch, int64_t) override {
    auto loss = F::cross_entropy(linear(batch[0]), batch[1]);
    log("train_loss", loss, fulgur::LogOptions().on_step(true).on_epoch(true));
    log("zeta", 1.0);
    log("alpha", 2.0);
    return loss;
  }
  torch::Tensor validation_step(const fulgur::Batch& batch, int64_t) override {
    auto logits = linear(batch[0]);
    log("val_acc", (logits.argmax(1) == batch[1]).to(torch::kFloat).mean(),
        fulgur::LogOptions().on_step(true).on_epoch(true));
    log("val_loss", F::cross_entropy(logits, batch[1]));
    return logits;
  }
  fulgur::OptimizerConfig configure_optimizers() override {
    auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
    fulgur::OptimizerConfig config(sgd);
    config.lr_schedulers.push_back({std::make_shared<fulgur::StepLR>(*sgd, 1, 0.1)});
    return config;
  }
  torch::nn::Linear linear{nullptr};
};

std::vector<std::vector<std::string>> table(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream fields(line);
    while (std::getline(fields, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

bool same_cell(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return a == b;
  return std::abs(std::stod(a) - std::stod(b)) <= 1e-5 * std::max(1.0, std::abs(std::stod(a)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: validation_logging LIGHTNING.pt WORK_DIR\n");
    return 2;
  }
  const auto file = fulgur::read_weights(argv[1]);
  const auto lightning = nlohmann::json::parse(std::ifstream(std::string(argv[1]) + ".json"));
  auto tensor = [&](const char* key) { return file.at(key).toTensor(); };
  Logged model;
  {
    torch::NoGradGuard no_grad;
    model.linear->weight.copy_(tensor("weight"));
    model.linear->bias.copy_(tensor("bias"));
  }
  fulgur::TensorDataLoaderOptions train_batches, val_batches;
  train_batches.batch_size(8);
  val_batches.batch_size(16);
  fulgur::TensorDataLoader train(tensor("x"), tensor("y"), train_batches);
  fulgur::TensorDataLoader val(tensor("x"), tensor("y"), val_batches);
  fulgur::TrainerOptions options;
  options.max_epochs(2);
  options.log_every_n_steps(1);
  options.num_sanity_val_steps(0);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.enable_checkpointing(false);
  options.accelerator("cpu");
  options.default_root_dir(std::string(argv[2]) + "/fulgur");
  options.plugins({fulgur::PluginSpec{"csv_logger", {}}, fulgur::PluginSpec{"lr_monitor", {}}});
  fulgur::Trainer trainer(options);
  trainer.fit(model, train, val);

  std::ifstream csv(trainer.loggers().front()->log_dir() + "/metrics.csv");
  const std::string ours((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
  std::vector<std::string> keys;
  for (const auto& [key, value] : trainer.callback_metrics()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  std::printf("Lightning's metrics.csv:\n%s\nfulgur's metrics.csv:\n%s\n",
              lightning["metrics_csv"].get<std::string>().c_str(), ours.c_str());
  std::printf("callback_metrics: Lightning %s, fulgur %s\n", lightning["callback_metrics"].dump().c_str(),
              nlohmann::json(keys).dump().c_str());
  const auto theirs = table(lightning["metrics_csv"]);
  const auto mine = table(ours);
  bool same = theirs.size() == mine.size() && keys == lightning["callback_metrics"].get<std::vector<std::string>>();
  for (std::size_t r = 0; same && r < theirs.size(); ++r) {
    same = theirs[r].size() == mine[r].size();
    for (std::size_t c = 0; same && c < theirs[r].size(); ++c) {
      same = r == 0 ? theirs[r][c] == mine[r][c] : same_cell(theirs[r][c], mine[r][c]);
      if (!same)
        std::printf("first difference: row %zu, column %zu: '%s' vs '%s'\n", r, c, theirs[r][c].c_str(),
                    mine[r][c].c_str());
    }
  }
  std::printf(same ? "the same columns, rows and callback_metrics as Lightning\n" : "DIFFERENT from Lightning\n");
  return same ? 0 : 1;
}
