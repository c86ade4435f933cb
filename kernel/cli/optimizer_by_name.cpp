#include "fulgur/optimizer_by_name.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>

#include <torch/optim.h>

#include "fulgur/error.h"
#include "fulgur/lr_schedulers.h"
#include "fulgur/module.h"
#include "nearest_name.h"

namespace fulgur::cli {
namespace {

using Kind = HParamValue::Kind;

// PyTorch's arguments and defaults (torch.optim, PyTorch 2.x).
const std::map<std::string, HParamSpecs>& optimizers() {
  static const std::map<std::string, HParamSpecs> table{
      {"Adam",
       {{"lr", 1e-3, "Learning rate"},
        {"betas", {0.9, 0.999}, "Coefficients of the running averages of the gradient and its square"},
        {"eps", 1e-8, "Added to the denominator"},
        {"weight_decay", 0.0, "L2 penalty"},
        {"amsgrad", false, "Use AMSGrad"}}},
      {"AdamW",
       {{"lr", 1e-3, "Learning rate"},
        {"betas", {0.9, 0.999}, "Coefficients of the running averages of the gradient and its square"},
        {"eps", 1e-8, "Added to the denominator"},
        {"weight_decay", 1e-2, "Decoupled weight decay"},
        {"amsgrad", false, "Use AMSGrad"}}},
      {"SGD",
       {{"lr", 1e-3, "Learning rate"},
        {"momentum", 0.0, "Momentum factor"},
        {"dampening", 0.0, "Dampening of the momentum"},
        {"weight_decay", 0.0, "L2 penalty"},
        {"nesterov", false, "Nesterov momentum"}}},
      {"RMSprop",
       {{"lr", 1e-2, "Learning rate"},
        {"alpha", 0.99, "Smoothing constant"},
        {"eps", 1e-8, "Added to the denominator"},
        {"weight_decay", 0.0, "L2 penalty"},
        {"momentum", 0.0, "Momentum factor"},
        {"centered", false, "Normalise by the gradient's estimated variance"}}},
      {"Adagrad",
       {{"lr", 1e-2, "Learning rate"},
        {"lr_decay", 0.0, "Learning rate decay"},
        {"weight_decay", 0.0, "L2 penalty"},
        {"initial_accumulator_value", 0.0, "Starting value of the accumulators"},
        {"eps", 1e-10, "Added to the denominator"}}},
  };
  return table;
}

const std::map<std::string, HParamSpecs>& schedulers() {
  static const std::map<std::string, HParamSpecs> table{
      {"StepLR",
       {HParamSpec::required("step_size", Kind::Int, "Epochs between decays"),
        {"gamma", 0.1, "Multiplicative factor of the decay"}}},
      {"MultiStepLR",
       {HParamSpec::required("milestones", Kind::List, "Epochs at which the rate decays"),
        {"gamma", 0.1, "Multiplicative factor of the decay"}}},
      {"ExponentialLR", {HParamSpec::required("gamma", Kind::Double, "Multiplicative factor per epoch")}},
      {"CosineAnnealingLR",
       {HParamSpec::required("T_max", Kind::Int, "Epochs of the half cosine"), {"eta_min", 0.0, "The lowest rate"}}},
      {"PolynomialLR",
       {{"total_iters", 5, "Epochs over which the rate decays"}, {"power", 1.0, "The polynomial's power"}}},
      {"ReduceLROnPlateau",
       {HParamSpec::required("monitor", Kind::String, "The metric to watch (LightningCLI's addition)"),
        {"mode", "min", "min: lower is better; max: higher is better"},
        {"factor", 0.1, "The rates' factor at each reduction"},
        {"patience", 10, "Epochs without improvement before a reduction"},
        {"threshold", 1e-4, "The least change that counts as an improvement"},
        {"threshold_mode", "rel", "rel or abs"},
        {"cooldown", 0, "Epochs after a reduction before watching again"},
        {"min_lr", 0.0, "The lowest rate"},
        {"eps", 1e-8, "A smaller change of the rate is not applied"}}},
  };
  return table;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// "torch.optim.lr_scheduler.StepLR", "StepLR", "steplr": the last dotted part, any case.
std::string canonical(const std::string& name, const std::map<std::string, HParamSpecs>& table, const char* what) {
  const auto dot = name.find_last_of('.');
  const std::string last = lower(dot == std::string::npos ? name : name.substr(dot + 1));
  std::vector<std::string> names;
  for (const auto& [known, specs] : table) {
    if (lower(known) == last) return known;
    names.push_back(known);
  }
  std::string list;
  for (const auto& known : names) list += (list.empty() ? "" : ", ") + known;
  throw Error(std::string("unknown ") + what + " '" + name + "'; did you mean '" + nearest_name(name, names) + "'? (" +
              what + "s: " + list + ")");
}

std::tuple<double, double> betas(const HParams& args) {
  const auto values = args.get<std::vector<double>>("betas");
  if (values.size() != 2) throw Error("optimizer.betas: expected two numbers, got " + args.at("betas").to_string());
  return {values[0], values[1]};
}

std::shared_ptr<torch::optim::Optimizer> make_optimizer(Module& module, const NamedClass& chosen) {
  const HParams& a = chosen.args;
  const auto parameters = module.parameters();
  const double lr = a.get<double>("lr");
  if (chosen.name == "Adam") {
    return std::make_shared<torch::optim::Adam>(parameters, torch::optim::AdamOptions(lr)
                                                                .betas(betas(a))
                                                                .eps(a.get<double>("eps"))
                                                                .weight_decay(a.get<double>("weight_decay"))
                                                                .amsgrad(a.get<bool>("amsgrad")));
  }
  if (chosen.name == "AdamW") {
    return std::make_shared<torch::optim::AdamW>(parameters, torch::optim::AdamWOptions(lr)
                                                                 .betas(betas(a))
                                                                 .eps(a.get<double>("eps"))
                                                                 .weight_decay(a.get<double>("weight_decay"))
                                                                 .amsgrad(a.get<bool>("amsgrad")));
  }
  if (chosen.name == "SGD") {
    return std::make_shared<torch::optim::SGD>(parameters, torch::optim::SGDOptions(lr)
                                                               .momentum(a.get<double>("momentum"))
                                                               .dampening(a.get<double>("dampening"))
                                                               .weight_decay(a.get<double>("weight_decay"))
                                                               .nesterov(a.get<bool>("nesterov")));
  }
  if (chosen.name == "RMSprop") {
    return std::make_shared<torch::optim::RMSprop>(parameters, torch::optim::RMSpropOptions(lr)
                                                                   .alpha(a.get<double>("alpha"))
                                                                   .eps(a.get<double>("eps"))
                                                                   .weight_decay(a.get<double>("weight_decay"))
                                                                   .momentum(a.get<double>("momentum"))
                                                                   .centered(a.get<bool>("centered")));
  }
  return std::make_shared<torch::optim::Adagrad>(
      parameters, torch::optim::AdagradOptions(lr)
                      .lr_decay(a.get<double>("lr_decay"))
                      .weight_decay(a.get<double>("weight_decay"))
                      .initial_accumulator_value(a.get<double>("initial_accumulator_value"))
                      .eps(a.get<double>("eps")));
}

LRSchedulerConfig make_scheduler(torch::optim::Optimizer& optimizer, const NamedClass& chosen) {
  const HParams& a = chosen.args;
  if (chosen.name == "StepLR") {
    return {std::make_shared<StepLR>(optimizer, a.get<int64_t>("step_size"), a.get<double>("gamma"))};
  }
  if (chosen.name == "MultiStepLR") {
    return {
        std::make_shared<MultiStepLR>(optimizer, a.get<std::vector<int64_t>>("milestones"), a.get<double>("gamma"))};
  }
  if (chosen.name == "ExponentialLR") return {std::make_shared<ExponentialLR>(optimizer, a.get<double>("gamma"))};
  if (chosen.name == "CosineAnnealingLR") {
    return {std::make_shared<CosineAnnealingLR>(optimizer, a.get<int64_t>("T_max"), a.get<double>("eta_min"))};
  }
  if (chosen.name == "PolynomialLR") {
    return {std::make_shared<PolynomialLR>(optimizer, a.get<int64_t>("total_iters"), a.get<double>("power"))};
  }
  ReduceLROnPlateau::Options options;
  options.mode(a.get<std::string>("mode"))
      .factor(a.get<double>("factor"))
      .patience(a.get<int64_t>("patience"))
      .threshold(a.get<double>("threshold"))
      .threshold_mode(a.get<std::string>("threshold_mode"))
      .cooldown(a.get<int64_t>("cooldown"))
      .min_lr(a.get<double>("min_lr"))
      .eps(a.get<double>("eps"));
  return {std::make_shared<ReduceLROnPlateau>(optimizer, options), "epoch", 1, a.get<std::string>("monitor")};
}

}  // namespace

std::string optimizer_name(const std::string& name) { return canonical(name, optimizers(), "optimizer"); }
std::string lr_scheduler_name(const std::string& name) { return canonical(name, schedulers(), "lr_scheduler"); }
const HParamSpecs& optimizer_hparams(const std::string& name) { return optimizers().at(optimizer_name(name)); }
const HParamSpecs& lr_scheduler_hparams(const std::string& name) { return schedulers().at(lr_scheduler_name(name)); }

OptimizerConfig build_optimizers(Module& module, const NamedClass& optimizer,
                                 const std::optional<NamedClass>& lr_scheduler) {
  auto built = make_optimizer(module, optimizer);
  OptimizerConfig config(built);
  if (lr_scheduler) config.lr_schedulers.push_back(make_scheduler(*built, *lr_scheduler));
  return config;
}

}  // namespace fulgur::cli
