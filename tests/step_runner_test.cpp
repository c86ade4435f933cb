// StepRunner: a plugin that runs the automatic training step itself — delegating to the kernel's
// eager step, or (as a CUDA-graph plugin replays its capture) doing the same work its own way.
#include <gtest/gtest.h>

#include "fulgur/step_runner.h"
#include "testing.h"

namespace fulgur {
namespace {

using testing::error_of;

// Calls the kernel's step as it is.
class Delegating : public Plugin, public StepRunner {
 public:
  std::string name() const override { return "delegating_runner"; }
  void attach(HookBus&) override {}
  at::Tensor run_step(const TrainingStep& step) override {
    ++calls;
    return step.eager();
  }
  int calls = 0;
};

// Runs the first batches eagerly, then does forward, backward and plain SGD itself — as a
// replayed graph would, with none of the step's hooks — and counts its optimizer steps.
class Replaying : public Plugin, public StepRunner {
 public:
  std::string name() const override { return "replaying_runner"; }
  void attach(HookBus&) override {}
  at::Tensor run_step(const TrainingStep& step) override {
    if (step.batch_idx < 2) return step.eager();
    auto& model = static_cast<testing::TinyClassifier&>(*step.trainer.module());
    for (auto& parameter : model.parameters()) parameter.mutable_grad() = torch::Tensor();
    at::Tensor loss = model.training_step(step.batch, step.batch_idx);
    loss.backward();
    {
      torch::NoGradGuard no_grad;
      for (auto& parameter : model.parameters()) parameter.sub_(parameter.grad() * model.lr);
    }
    step.count_optimizer_steps(1);
    ++replays;
    return loss;
  }
  int replays = 0;
};

// Two epochs of eight batches, from the weights seed 7 gives, without a runner.
struct EagerRun {
  testing::Blobs data = testing::make_blobs(64);
  TensorDataLoader train = testing::make_loader(data, 8);
  torch::Tensor weights;
  int64_t global_step = 0;
  EagerRun() {
    Trainer plain(testing::quiet_options(2));
    torch::manual_seed(7);
    testing::TinyClassifier model;
    plain.fit(model, train);
    weights = testing::flat_parameters(model).clone();
    global_step = plain.global_step();
  }
};

// The eager run's fit again, from the same weights, with a `Runner` handed each step.
template <typename Runner>
struct FitWith {
  explicit FitWith(TensorDataLoader& train)
      : runner(static_cast<Runner&>(trainer.add_plugin(std::make_unique<Runner>()))) {
    torch::manual_seed(7);
    model = std::make_unique<testing::TinyClassifier>();
    trainer.fit(*model, train);
  }
  torch::Tensor weights() const { return testing::flat_parameters(*model); }

  Trainer trainer{testing::quiet_options(2)};
  Runner& runner;
  std::unique_ptr<testing::TinyClassifier> model;
};

TEST(StepRunner, ADelegatingRunnerGivesTheEagerRun) {
  EagerRun eager;
  FitWith<Delegating> run(eager.train);
  EXPECT_EQ(run.runner.calls, 16);
  EXPECT_EQ(run.trainer.global_step(), eager.global_step);
  EXPECT_TRUE(run.weights().equal(eager.weights));
}

TEST(StepRunner, ARunnerDoingTheStepItsOwnWayKeepsTheLoopsCounts) {
  EagerRun eager;
  FitWith<Replaying> run(eager.train);
  EXPECT_EQ(run.runner.replays, 12);  // batches 2..7 of both epochs
  EXPECT_EQ(run.trainer.global_step(), eager.global_step);
  EXPECT_TRUE(run.weights().allclose(eager.weights, 1e-6, 1e-7));
  EXPECT_TRUE(run.trainer.callback_metrics().count("train_loss"));  // logged inside the runner's own step
}

// What a CUDA-graph plugin asks of the kernel, on the CPU: the step on inputs the runner owns,
// gradients zeroed in place (each parameter keeps one gradient tensor), and the step's log()
// calls recorded and logged again afterwards.
class OwnInputs : public Plugin, public StepRunner {
 public:
  std::string name() const override { return "own_inputs_runner"; }
  void attach(HookBus&) override {}
  at::Tensor run_step(const TrainingStep& step) override {
    if (step.batch_idx < 1) return step.eager({nullptr, /*zero_grad_in_place=*/true});
    auto& model = static_cast<testing::TinyClassifier&>(*step.trainer.module());
    if (!grad_address) grad_address = model.linear->weight.grad().data_ptr();
    const Batch inputs = step.batch.map_tensors([](const at::Tensor& tensor) { return tensor.clone(); });
    std::vector<MetricStore::LoggedValue> logged;
    step.trainer.metrics().clear_step_metrics();
    step.trainer.metrics().record_into(&logged, "own_inputs_runner");
    at::Tensor loss = step.eager({&inputs, /*zero_grad_in_place=*/true});
    step.trainer.metrics().record_into(nullptr);
    kept_gradients = kept_gradients && model.linear->weight.grad().data_ptr() == grad_address;
    recorded += static_cast<int>(logged.size());
    if (step.trainer.metrics().step_metrics().count("train_loss")) stored_while_recording = true;
    for (const auto& value : logged) step.trainer.metrics().log_recorded(value);
    last_loss = loss.detach();
    return loss;
  }
  at::Tensor last_loss;
  const void* grad_address = nullptr;
  bool kept_gradients = true;
  bool stored_while_recording = false;
  int recorded = 0;
};

TEST(StepRunner, EagerRunsOnTheRunnersInputsWithGradientsZeroedInPlaceAndLogsRecorded) {
  EagerRun eager;
  FitWith<OwnInputs> run(eager.train);
  const auto& runner = run.runner;
  const auto& trainer = run.trainer;
  EXPECT_EQ(trainer.global_step(), eager.global_step);
  EXPECT_TRUE(run.weights().equal(eager.weights));
  EXPECT_TRUE(runner.kept_gradients);
  EXPECT_EQ(runner.recorded, 14);  // train_loss of batches 1..7, both epochs
  EXPECT_FALSE(runner.stored_while_recording);
  // Logged again after the step: the last batch's loss, as a copy of its own.
  ASSERT_TRUE(trainer.callback_metrics().count("train_loss"));
  const auto& logged = trainer.callback_metrics().at("train_loss");
  EXPECT_TRUE(logged.equal(runner.last_loss));
  EXPECT_NE(logged.data_ptr(), runner.last_loss.data_ptr());
}

class Twice : public Delegating {
 public:
  std::string name() const override { return "second_runner"; }
};

class Miscounting : public Delegating {
 public:
  at::Tensor run_step(const TrainingStep& step) override {
    step.count_optimizer_steps(-1);
    return step.eager();
  }
};

TEST(StepRunner, TwoRunnersOrANegativeCountAreNamed) {
  Trainer trainer(testing::quiet_options(1));
  trainer.add_plugin(std::make_unique<Delegating>());
  EXPECT_NE(error_of([&] { trainer.add_plugin(std::make_unique<Twice>()); }).find("two step runners"),
            std::string::npos);

  const auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 8);
  Trainer miscounted(testing::quiet_options(1));
  miscounted.add_plugin(std::make_unique<Miscounting>());
  testing::TinyClassifier model;
  EXPECT_NE(error_of([&] { miscounted.fit(model, train); }).find("counted -1 optimizer steps"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
