// spike_detection: a loss that jumps ends the run naming the batch and writes the batches to
// skip; a steadily falling loss does not; Lightning's tolerances, warmup and non-finite rule.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fulgur/plugins/spike_detection.h"
#include "testing.h"

namespace fulgur {
namespace {

// TinyClassifier's loss, multiplied by `factor` at global step `at` (a corrupted batch).
struct Spiking : testing::TinyClassifier {
  Spiking(int64_t at, double factor) : at_(at), factor_(factor) {}
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    auto loss = testing::TinyClassifier::training_step(batch, batch_idx);
    return trainer().global_step() == at_ ? loss * factor_ : loss;
  }
  int64_t at_;
  double factor_;
};

TrainerOptions quiet(int64_t max_epochs, const std::string& plugin) {
  TrainerOptions options;
  options.max_epochs(max_epochs).enable_checkpointing(false).enable_progress_bar(false).enable_model_summary(false);
  options.plugins().push_back(PluginSpec::parse(plugin));
  return options;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SpikeDetection, AJumpEndsTheRunNamingTheBatchAndListsTheBatchesToSkip) {
  const std::string dir = testing::temp_dir("spike");
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 4);  // 16 batches
  Spiking model(/*at=*/7, /*factor=*/50.0);
  Trainer trainer(quiet(1, "spike_detection:exclude_batches_path=" + dir));
  const std::string error = testing::error_of([&] { trainer.fit(model, train); });
  EXPECT_NE(error.find("Training spike detected in batch 7"), std::string::npos) << error;
  EXPECT_EQ(read(dir + "/skip_batches.json"), "[\n    6,\n    7\n]");
  EXPECT_EQ(trainer.global_step(), 8);  // the spiking step ran, nothing after it
}

TEST(SpikeDetection, ASteadyRunAndTolerancesThatAllowTheJumpFinish) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier steady;
  Trainer plain(quiet(3, "spike_detection"));
  plain.fit(steady, train);
  EXPECT_EQ(plain.global_step(), 48);
  // The same jump at step 7 of 16, under options that let the run finish.
  auto steps_with = [&](const std::string& plugin) {
    Spiking model(7, 50.0);
    Trainer trainer(quiet(1, plugin));
    trainer.fit(model, train);
    return trainer.global_step();
  };
  EXPECT_EQ(steps_with("spike_detection:atol=1000"), 16);  // it must also be 1000 off the mean
  EXPECT_EQ(steps_with("spike_detection:warmup=8"), 16);   // the warmup covers it
  EXPECT_EQ(steps_with("spike_detection:mode=max"), 16);   // higher is an improvement, never a spike
}

TEST(SpikeDetection, ANonFiniteLossIsASpikeUnlessFiniteOnlyIsOff) {
  const std::string dir = testing::temp_dir("spike_nan");
  auto data = testing::make_blobs(32);
  auto train = testing::make_loader(data, 4);
  Spiking nan_at_3(3, std::numeric_limits<double>::quiet_NaN());
  Trainer trainer(quiet(1, "spike_detection:exclude_batches_path=" + dir + "/nan.json"));
  EXPECT_NE(testing::error_of([&] { trainer.fit(nan_at_3, train); }).find("Training spike detected in batch 3"),
            std::string::npos);
  EXPECT_EQ(read(dir + "/nan.json"), "[\n    2,\n    3\n]");
  // finite_only=false: NaN is judged like a number (no comparison with it holds) and kept out of
  // the mean, so the run goes on.
  Spiking judged(3, std::numeric_limits<double>::quiet_NaN());
  Trainer lenient(quiet(1, "spike_detection:finite_only=false"));
  lenient.fit(judged, train);
  EXPECT_EQ(lenient.global_step(), 8);
  EXPECT_NE(testing::error_of([] {
              plugins::SpikeDetectionOptions::parse({{"mode", "lowest"}});
            }).find("mode"),
            std::string::npos);
}

}  // namespace
}  // namespace fulgur
