#include "testing.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fulgur::testing {

Blobs make_blobs(int64_t samples, int64_t features, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto y = torch::randint(0, 2, {samples}, generator, torch::dtype(torch::kLong));
  auto centers = (y.to(torch::kFloat) * 2 - 1).unsqueeze(1).expand({samples, features});
  auto x = centers + 0.5 * torch::randn({samples, features}, generator);
  return {x, y};
}

TensorDataLoader make_loader(const Blobs& data, int64_t batch_size, bool shuffle, uint64_t seed) {
  TensorDataLoaderOptions options;
  options.batch_size(batch_size);
  options.shuffle(shuffle);
  options.seed(seed);
  return TensorDataLoader(data.x, data.y, options);
}

TrainerOptions quiet_options(int64_t max_epochs) {
  TrainerOptions options;
  options.max_epochs(max_epochs);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.enable_checkpointing(false);
  return options;
}

TinyClassifier::TinyClassifier(int64_t features, double lr_) : lr(lr_) {
  linear = register_module("linear", torch::nn::Linear(features, 2));
}

torch::Tensor TinyClassifier::training_step(const Batch& batch, int64_t) {
  auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
  log("train_loss", loss);
  return loss;
}

torch::Tensor TinyClassifier::validation_step(const Batch& batch, int64_t) {
  auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
  log("val_loss", loss);
  return loss;
}

torch::Tensor TinyClassifier::test_step(const Batch& batch, int64_t) {
  auto logits = forward(batch[0]);
  auto accuracy = (logits.argmax(1) == batch[1]).to(torch::kFloat).mean();
  log("test_acc", accuracy);
  return accuracy;
}

torch::Tensor TinyClassifier::predict_step(const Batch& batch, int64_t) { return forward(batch[0]).argmax(1); }

OptimizerConfig TinyClassifier::configure_optimizers() {
  return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(lr));
}

namespace {
std::string describe(const StageHook& hook) { return " stage=" + std::string(to_string(hook.stage)); }
std::string describe(const RunHook&) { return ""; }
std::string describe(const BatchTransferHook&) { return ""; }
std::string describe(const EpochHook& hook) { return " epoch=" + std::to_string(hook.epoch); }
std::string describe(const BatchStartHook& hook) { return " batch=" + std::to_string(hook.batch_idx); }
std::string describe(const BatchEndHook& hook) { return " batch=" + std::to_string(hook.batch_idx); }
std::string describe(const BeforeBackwardHook&) { return ""; }
std::string describe(const AfterBackwardHook&) { return ""; }
std::string describe(const OptimizerHook& hook) { return " optimizer=" + std::to_string(hook.optimizer_idx); }
std::string describe(const CheckpointHook&) { return ""; }
std::string describe(const ExceptionHook&) { return ""; }
}  // namespace

void HookRecorder::attach(HookBus& bus) {
  bus.for_each_hook([this](std::string_view hook_name, auto& hook) {
    using Argument = std::remove_reference_t<typename std::remove_reference_t<decltype(hook)>::template arg<0>::type>;
    connect(hook,
            [this, hook_name](Argument& context) { calls.push_back(std::string(hook_name) + describe(context)); });
  });
}

torch::Tensor flat_parameters(torch::nn::Module& module) {
  std::vector<torch::Tensor> flat;
  for (const auto& parameter : module.parameters()) flat.push_back(parameter.detach().flatten());
  return torch::cat(flat);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(line);
  return lines;
}

namespace {

// The folders this process made, removed when it exits (CTest runs each test in a process of its
// own, so at the test's end), whether the test passed or failed.
std::vector<std::filesystem::path>& made_folders() {
  static std::vector<std::filesystem::path> folders;
  return folders;
}

void remove_made_folders() {
  for (const auto& folder : made_folders()) {
    std::error_code ignored;
    std::filesystem::remove_all(folder, ignored);
  }
}

}  // namespace

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("fulgur_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (made_folders().empty()) std::atexit(remove_made_folders);
  made_folders().push_back(dir);
  return dir.string();
}

}  // namespace fulgur::testing
