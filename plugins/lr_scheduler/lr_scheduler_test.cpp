// The schedules' curves against their formulas (and against PyTorch itself), and the plugin
// that steps them: intervals, frequencies, plateau monitoring, checkpoints, command-line use.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

#include "fulgur/lr_schedulers.h"
#include "fulgur/plugins/lr_scheduler.h"
#include "testing.h"

namespace fulgur {
namespace {

constexpr double kPi = 3.14159265358979323846;

template <typename Body>
std::string error_message(Body&& body) {
  try {
    body();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

// An SGD with two param groups (base rates 0.1 and 0.02), to check every group follows.
struct TwoGroups {
  torch::Tensor a = torch::zeros({1}, torch::requires_grad());
  torch::Tensor b = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD sgd{std::vector<torch::optim::OptimizerParamGroup>{
                            torch::optim::OptimizerParamGroup({a}, std::make_unique<torch::optim::SGDOptions>(0.1)),
                            torch::optim::OptimizerParamGroup({b}, std::make_unique<torch::optim::SGDOptions>(0.02))},
                        torch::optim::SGDOptions(0.1)};
};

// Steps `scheduler` `steps` times and returns group 0's rate before each step and after the last.
std::vector<double> curve(LRScheduler& scheduler, int steps, std::optional<double> metric = std::nullopt) {
  std::vector<double> lrs{scheduler.last_lrs()[0]};
  for (int i = 0; i < steps; ++i) {
    scheduler.step(metric);
    lrs.push_back(scheduler.last_lrs()[0]);
  }
  return lrs;
}

void expect_curve(const std::vector<double>& actual, const std::function<double(int)>& formula) {
  for (std::size_t t = 0; t < actual.size(); ++t)
    EXPECT_NEAR(actual[t], formula(static_cast<int>(t)), 1e-12) << "step " << t;
}

TEST(LRSchedules, StepLR) {
  TwoGroups opt;
  StepLR scheduler(opt.sgd, 3, 0.5);
  expect_curve(curve(scheduler, 10), [](int t) { return 0.1 * std::pow(0.5, t / 3); });
  EXPECT_NEAR(scheduler.last_lrs()[1], 0.02 * std::pow(0.5, 10 / 3), 1e-15);
}

TEST(LRSchedules, MultiStepLR) {
  TwoGroups opt;
  MultiStepLR scheduler(opt.sgd, {2, 5}, 0.1);
  expect_curve(curve(scheduler, 8), [](int t) { return 0.1 * std::pow(0.1, (t >= 2) + (t >= 5)); });
}

TEST(LRSchedules, ExponentialLR) {
  TwoGroups opt;
  ExponentialLR scheduler(opt.sgd, 0.9);
  expect_curve(curve(scheduler, 12), [](int t) { return 0.1 * std::pow(0.9, t); });
}

TEST(LRSchedules, CosineAnnealingLR) {
  TwoGroups opt;
  CosineAnnealingLR scheduler(opt.sgd, 10, 0.001);
  expect_curve(curve(scheduler, 10), [](int t) { return 0.001 + (0.1 - 0.001) * (1 + std::cos(kPi * t / 10)) / 2; });
  EXPECT_NEAR(scheduler.last_lrs()[0], 0.001, 1e-15);  // the bottom at t_max
}

TEST(LRSchedules, CosineWarmRestartsRestartsAndStretches) {
  TwoGroups opt;
  CosineAnnealingWarmRestarts scheduler(opt.sgd, 3, 2, 0.0);
  // Periods of 3, 6, 12 steps: restarts at 3 and 9.
  expect_curve(curve(scheduler, 14), [](int t) {
    const int start = t < 3 ? 0 : t < 9 ? 3 : 9;
    const int period = t < 3 ? 3 : t < 9 ? 6 : 12;
    return 0.1 * (1 + std::cos(kPi * (t - start) / period)) / 2;
  });
}

TEST(LRSchedules, LinearWarmupThenCosine) {
  TwoGroups opt;
  auto cosine = std::make_shared<CosineAnnealingLR>(opt.sgd, 8, 0.0);
  LinearWarmup scheduler(cosine, 4, 0.25);
  EXPECT_EQ(scheduler.kind(), "linear_warmup+cosine");
  expect_curve(curve(scheduler, 12), [](int t) {
    if (t < 4) return 0.1 * (0.25 + 0.75 * t / 4.0);
    return 0.1 * (1 + std::cos(kPi * (t - 4) / 8)) / 2;
  });
  EXPECT_NEAR(scheduler.last_lrs()[1], 0.0, 1e-15);
}

TEST(LRSchedules, LinearWarmupAlone) {
  TwoGroups opt;
  LinearWarmup scheduler(opt.sgd, 5, 0.1);
  expect_curve(curve(scheduler, 8), [](int t) { return t < 5 ? 0.1 * (0.1 + 0.9 * t / 5.0) : 0.1; });
}

TEST(LRSchedules, OneCycleLR) {
  TwoGroups opt;
  OneCycleLR scheduler(opt.sgd, 1.0, 20, 0.25, "cos", 10.0, 100.0);
  const double initial = 1.0 / 10.0;
  const double minimum = initial / 100.0;
  expect_curve(curve(scheduler, 20), [&](int t) {
    // Phase 1 ends at step 0.25 * 20 - 1 = 4, phase 2 at 19.
    if (t <= 4) return 1.0 + (initial - 1.0) * (1 + std::cos(kPi * t / 4.0)) / 2;
    return minimum + (1.0 - minimum) * (1 + std::cos(kPi * (t - 4) / 15.0)) / 2;
  });
  EXPECT_NE(error_message([&] { scheduler.step(); }).find("total_steps is 20"), std::string::npos);
}

TEST(LRSchedules, OneCycleLinearThreePhase) {
  TwoGroups opt;
  OneCycleLR scheduler(opt.sgd, 1.0, 20, 0.25, "linear", 10.0, 100.0, /*three_phase=*/true);
  // Phases end at steps 4 (0.1 -> 1), 8 (1 -> 0.1) and 19 (0.1 -> 0.001).
  expect_curve(curve(scheduler, 20), [](int t) {
    if (t <= 4) return 0.1 + 0.9 * t / 4.0;
    if (t <= 8) return 1.0 - 0.9 * (t - 4) / 4.0;
    return 0.1 + (0.001 - 0.1) * (t - 8) / 11.0;
  });
}

TEST(LRSchedules, PolynomialLR) {
  TwoGroups opt;
  PolynomialLR scheduler(opt.sgd, 6, 2.0);
  expect_curve(curve(scheduler, 9), [](int t) { return 0.1 * std::pow(1.0 - std::min(t, 6) / 6.0, 2.0); });
}

TEST(LRSchedules, ReduceOnPlateauFollowsPatienceThresholdAndCooldown) {
  TwoGroups opt;
  ReduceLROnPlateau::Options options;
  options.patience(1);
  options.factor(0.5);
  options.cooldown(1);
  options.threshold(0.1);  // relative: must beat best * 0.9
  options.min_lr(0.02);
  ReduceLROnPlateau scheduler(opt.sgd, options);
  // metric:        1.0   0.95   0.95  0.5   0.5   0.5   0.5   0.5   0.5
  // improved:      yes   no     no    yes   no    no    no    no    no
  // bad epochs:    0     1      2>1!  0     1     2>1!  0(cd) 1     2>1!
  const std::vector<double> metrics{1.0, 0.95, 0.95, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
  const std::vector<double> expected{0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02};
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    scheduler.step(metrics[i]);
    EXPECT_NEAR(scheduler.last_lrs()[0], expected[i], 1e-15) << "step " << i;
  }
  // Group 1 (0.02) is at min_lr from the start: never reduced.
  EXPECT_NEAR(scheduler.last_lrs()[1], 0.02, 1e-15);
  EXPECT_NE(error_message([&] { scheduler.step(); }).find("needs the monitored metric"), std::string::npos);
}

TEST(LRSchedules, StateRoundTripsThroughAPickledDict) {
  TwoGroups first;
  auto warm = std::make_shared<LinearWarmup>(std::make_shared<CosineAnnealingLR>(first.sgd, 10), 3);
  curve(*warm, 5);
  const auto bytes = torch::pickle_save(c10::IValue(warm->state_dict()));
  TwoGroups second;
  auto restored = std::make_shared<LinearWarmup>(std::make_shared<CosineAnnealingLR>(second.sgd, 10), 3);
  restored->load_state_dict(torch::pickle_load(bytes).toGenericDict());
  EXPECT_EQ(restored->steps(), 5);
  EXPECT_EQ(curve(*restored, 4), curve(*warm, 4));

  TwoGroups third;
  StepLR other(third.sgd, 2);
  EXPECT_NE(error_message([&] { other.load_state_dict(warm->state_dict()); }).find("'linear_warmup+cosine' scheduler"),
            std::string::npos);
}

// The closed forms against PyTorch's own schedulers, run by Debian's python3-torch.
TEST(LRSchedules, MatchPyTorch) {
  const char* script = R"PY(
import torch
def run(make, steps=14):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    s = make(opt); out = [opt.param_groups[0]['lr']]
    for _ in range(steps):
        opt.step(); s.step(); out.append(opt.param_groups[0]['lr'])
    print(' '.join(repr(v) for v in out))
S = torch.optim.lr_scheduler
run(lambda o: S.StepLR(o, 3, 0.5))
run(lambda o: S.MultiStepLR(o, [2, 5], 0.1))
run(lambda o: S.ExponentialLR(o, 0.9))
run(lambda o: S.CosineAnnealingLR(o, 10, 0.001))
run(lambda o: S.CosineAnnealingWarmRestarts(o, 3, 2, 0.0))
run(lambda o: S.OneCycleLR(o, 1.0, total_steps=14, pct_start=0.25, div_factor=10.0, final_div_factor=100.0, cycle_momentum=False))
run(lambda o: S.PolynomialLR(o, 6, 2.0))
run(lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.25, 1.0, 4), S.CosineAnnealingLR(o, 8)], [4]))
)PY";
  const std::string path = testing::temp_dir("lr_pytorch") + "/schedules.py";
  {
    std::ofstream out(path);
    out << script;
  }
  FILE* pipe = popen(("/usr/bin/python3 -W ignore " + path).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  ASSERT_EQ(pclose(pipe), 0) << output;

  std::vector<std::function<std::unique_ptr<LRScheduler>(torch::optim::Optimizer&)>> ours{
      [](auto& o) { return std::make_unique<StepLR>(o, 3, 0.5); },
      [](auto& o) {
        return std::make_unique<MultiStepLR>(o, std::vector<int64_t>{2, 5}, 0.1);
      },
      [](auto& o) { return std::make_unique<ExponentialLR>(o, 0.9); },
      [](auto& o) { return std::make_unique<CosineAnnealingLR>(o, 10, 0.001); },
      [](auto& o) { return std::make_unique<CosineAnnealingWarmRestarts>(o, 3, 2, 0.0); },
      [](auto& o) { return std::make_unique<OneCycleLR>(o, 1.0, 14, 0.25, "cos", 10.0, 100.0); },
      [](auto& o) { return std::make_unique<PolynomialLR>(o, 6, 2.0); },
      [](auto& o) { return std::make_unique<LinearWarmup>(std::make_shared<CosineAnnealingLR>(o, 8), 4, 0.25); },
  };
  std::istringstream lines(output);
  for (std::size_t i = 0; i < ours.size(); ++i) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line)) << output;
    std::istringstream values(line);
    torch::Tensor p = torch::zeros({1}, torch::requires_grad());
    torch::optim::SGD sgd({p}, 0.1);
    auto scheduler = ours[i](sgd);
    const auto actual = curve(*scheduler, 14);
    for (std::size_t t = 0; t < actual.size(); ++t) {
      double expected = 0;
      values >> expected;
      EXPECT_NEAR(actual[t], expected, 1e-9) << scheduler->kind() << " at step " << t;
    }
  }
}

// --- the plugin ---------------------------------------------------------------------------

double learning_rate(const Trainer& trainer) {
  return trainer.optimizers().front()->param_groups().front().options().get_lr();
}

TrainerOptions quiet(int64_t max_epochs) {
  TrainerOptions options;
  options.max_epochs(max_epochs);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.enable_checkpointing(false);
  return options;
}

TEST(LRSchedulerPlugin, AttachedByItselfWhenConfigureOptimizersReturnsOne) {
  struct WithCosine : testing::TinyClassifier {
    OptimizerConfig configure_optimizers() override {
      auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
      OptimizerConfig config(sgd);
      config.lr_schedulers.push_back({std::make_shared<CosineAnnealingLR>(*sgd, 8), "step", 2});
      return config;
    }
  };
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);  // 8 steps -> 4 scheduler steps
  WithCosine model;
  Trainer trainer(quiet(1));
  EXPECT_EQ(trainer.find_plugin("lr_scheduler"), nullptr);
  trainer.fit(model, train);
  EXPECT_NE(trainer.find_plugin("lr_scheduler"), nullptr);
  EXPECT_NEAR(learning_rate(trainer), 0.1 * (1 + std::cos(kPi * 4 / 8)) / 2, 1e-12);
}

TEST(LRSchedulerPlugin, StepsAfterOptimizerStepsNotMicroBatches) {
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);  // 8 batches, accumulate 4 -> 2 optimizer steps
  testing::TinyClassifier model;
  auto options = quiet(1);
  options.accumulate_grad_batches(4);
  options.plugins().push_back(PluginSpec::parse("lr_scheduler:schedule=exponential,gamma=0.5,interval=step"));
  Trainer trainer(options);
  trainer.fit(model, train);
  EXPECT_EQ(trainer.global_step(), 2);
  EXPECT_NEAR(learning_rate(trainer), model.lr * 0.25, 1e-12);
}

TEST(LRSchedulerPlugin, CommandLineScheduleWithWarmupPerEpoch) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  auto options = quiet(3);
  // t_max defaults to the run's length after the warmup: 3 - 1 = 2 epochs.
  options.plugins().push_back(PluginSpec::parse("lr_scheduler:schedule=cosine,warmup=1,warmup_start_factor=0.5"));
  Trainer trainer(options);
  std::vector<double> per_epoch;
  struct Watch : Plugin {
    std::vector<double>* lrs;
    std::string name() const override { return "watch"; }
    void attach(HookBus& bus) override {
      connect(bus.on_train_epoch_start, [this](EpochHook& hook) { lrs->push_back(learning_rate(hook.trainer)); });
    }
  };
  auto watch = std::make_unique<Watch>();
  watch->lrs = &per_epoch;
  trainer.add_plugin(std::move(watch));
  trainer.fit(model, train);
  ASSERT_EQ(per_epoch.size(), 3u);
  EXPECT_NEAR(per_epoch[0], model.lr * 0.5, 1e-12);
  EXPECT_NEAR(per_epoch[1], model.lr, 1e-12);
  EXPECT_NEAR(per_epoch[2], model.lr * (1 + std::cos(kPi / 2)) / 2, 1e-12);
  EXPECT_NEAR(learning_rate(trainer), 0.0, 1e-12);
}

// Logs a scripted val_loss per epoch, so the plateau decisions are known in advance.
class ScriptedValLoss : public testing::TinyClassifier {
 public:
  std::vector<double> script;
  torch::Tensor validation_step(const Batch& batch, int64_t batch_idx) override {
    if (!trainer().sanity_checking()) log("val_loss", script.at(trainer().current_epoch()));
    return {};
  }
};

TEST(LRSchedulerPlugin, PlateauReadsTheMonitoredValidationMetric) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  auto val = testing::make_loader(data, 8);
  ScriptedValLoss model;
  model.script = {1.0, 0.9, 0.9, 0.9, 0.9, 0.9};
  auto options = quiet(6);
  options.plugins().push_back(
      PluginSpec::parse("lr_scheduler:schedule=plateau,monitor=val_loss,patience=1,factor=0.5"));
  Trainer trainer(options);
  trainer.fit(model, train, val);
  // Improvements at epochs 0 and 1; bad epochs 2, 3 -> cut after 3; 4, 5 -> cut after 5.
  EXPECT_NEAR(learning_rate(trainer), model.lr * 0.25, 1e-12);
}

TEST(LRSchedulerPlugin, MissingMonitorIsAnErrorUnlessNotStrict) {
  struct PlateauModel : testing::TinyClassifier {
    bool strict = true;
    OptimizerConfig configure_optimizers() override {
      auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
      OptimizerConfig config(sgd);
      LRSchedulerConfig scheduler{std::make_shared<ReduceLROnPlateau>(*sgd)};
      scheduler.monitor("no_such_metric");
      scheduler.strict(strict);
      config.lr_schedulers.push_back(scheduler);
      return config;
    }
  };
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  PlateauModel model;
  Trainer trainer(quiet(2));
  const auto message = testing::error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(message.find("follows metric 'no_such_metric', which was not logged; logged metrics:"), std::string::npos)
      << message;
  model.strict = false;
  Trainer lenient(quiet(2));
  lenient.fit(model, train);
  EXPECT_DOUBLE_EQ(learning_rate(lenient), 0.1);
}

TEST(LRSchedulerPlugin, BadOptionsAreNamed) {
  auto error = [](const std::string& spec) {
    try {
      Trainer trainer([&] {
        auto options = quiet(1);
        options.plugins().push_back(PluginSpec::parse(spec));
        return options;
      }());
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error("lr_scheduler:schedule=sawtooth").find("expects step, multistep"), std::string::npos);
  EXPECT_NE(error("lr_scheduler:schedule=cosine,gamma=0.5").find("gamma"), std::string::npos);
  EXPECT_NE(error("lr_scheduler:schedule=multistep,milestones=3/x").find("milestones"), std::string::npos);
  EXPECT_NE(error("lr_scheduler:interval=batch").find("interval"), std::string::npos);
  EXPECT_NE(error("lr_scheduler:gamma=0.5").find("needs a schedule"), std::string::npos);
  EXPECT_NE(error("lr_scheduler:schedule=plateau,warmup=2").find("cannot follow a warmup"), std::string::npos);

  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  struct WithStep : testing::TinyClassifier {
    OptimizerConfig configure_optimizers() override {
      auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
      OptimizerConfig config(sgd);
      config.lr_schedulers.push_back({std::make_shared<StepLR>(*sgd, 1)});
      return config;
    }
  } model;
  auto options = quiet(1);
  options.plugins().push_back(PluginSpec::parse("lr_scheduler:schedule=cosine,t_max=3"));
  Trainer trainer(options);
  EXPECT_NE(testing::error_of([&] { trainer.fit(model, train); }).find("already returned a scheduler"),
            std::string::npos);
}

TEST(LRSchedulerPlugin, ResumedRunContinuesTheScheduleExactly) {
  auto data = testing::make_blobs(32);
  const std::string dir = testing::temp_dir("lr_resume");
  auto spec = PluginSpec::parse("lr_scheduler:schedule=plateau,monitor=epoch_loss,patience=0,factor=0.5,threshold=0.5");
  auto run = [&](int64_t epochs, const std::string& ckpt, const std::string& save_to) {
    struct Logged : testing::TinyClassifier {
      torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
        auto loss = TinyClassifier::training_step(batch, batch_idx);
        log("epoch_loss", loss, LogOptions().on_step(false).on_epoch(true));
        return loss;
      }
    };
    torch::manual_seed(3);
    Logged model;
    auto train = testing::make_loader(data, 8);
    auto options = quiet(epochs);
    options.seed(3);
    options.plugins().push_back(spec);
    Trainer trainer(options);
    trainer.fit(model, train, nullptr, ckpt);
    if (!save_to.empty()) trainer.save_checkpoint(save_to);
    return std::make_pair(learning_rate(trainer), testing::flat_parameters(model));
  };
  const auto whole = run(4, "", "");
  run(2, "", dir + "/half.ckpt");
  const auto resumed = run(4, dir + "/half.ckpt", "");
  EXPECT_LT(whole.first, 0.1);  // the plateau scheduler did cut the rate
  EXPECT_DOUBLE_EQ(resumed.first, whole.first);
  EXPECT_TRUE(torch::equal(resumed.second, whole.second));
}

}  // namespace
}  // namespace fulgur
