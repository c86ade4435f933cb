// throughput_monitor on real runs: the loggers receive totals and rates with Lightning's names,
// FLOP/s follow from the Module's FLOPs per batch, and validation gets its own.
#include <gtest/gtest.h>

#include "fulgur/plugins/throughput_monitor.h"
#include "testing.h"

namespace fulgur {
namespace {

struct Counted : testing::TinyClassifier, plugins::FlopsPerBatch {
  double flops_per_batch() const override { return 1000.0; }
};

TEST(ThroughputMonitor, LogsTotalsRatesAndFlopsWithLightningsNames) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 8);  // 8 batches per epoch
  auto val = testing::make_loader(data, 16);
  Counted model;
  auto options = testing::quiet_options(2);
  options.log_every_n_steps(4);
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  auto& logger =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  plugins::ThroughputMonitorOptions monitor;
  monitor.window_size(3);
  trainer.add_plugin(monitor.spec());
  trainer.fit(model, train, val);

  std::vector<Logger::Metrics> train_rows, validate_rows;
  for (const auto& [step, row] : logger.rows) {
    if (row.count("train/samples")) train_rows.push_back(row);
    if (row.count("validate/samples")) validate_rows.push_back(row);
  }
  ASSERT_EQ(train_rows.size(), 4u);  // steps 4, 8, 12, 16
  const auto& last = train_rows.back();
  EXPECT_EQ(last.at("train/batches"), 16);
  EXPECT_EQ(last.at("train/samples"), 128);
  EXPECT_GT(last.at("train/time"), 0);
  ASSERT_TRUE(last.count("train/device/samples_per_sec"));
  EXPECT_NEAR(last.at("train/device/samples_per_sec"), 8 * last.at("train/device/batches_per_sec"),
              1e-6 * last.at("train/device/samples_per_sec"));
  EXPECT_NEAR(last.at("train/device/flops_per_sec"), 1000 * last.at("train/device/batches_per_sec"),
              1e-6 * last.at("train/device/flops_per_sec"));
  EXPECT_FALSE(last.count("train/samples_per_sec"));  // global rates only with several processes
  // One row per validation run, over its own batches.
  ASSERT_EQ(validate_rows.size(), 2u);
  EXPECT_EQ(validate_rows.back().at("validate/samples"), 64);
  EXPECT_EQ(validate_rows.back().at("validate/batches"), 4);
}

TEST(ThroughputMonitor, BadOptionsAreNamed) {
  Trainer trainer(testing::quiet_options());
  plugins::ThroughputMonitorOptions monitor;
  monitor.window_size(1);
  const auto error = testing::error_of([&] { trainer.add_plugin(monitor.spec()); });
  EXPECT_NE(error.find("'window_size' must be at least 2"), std::string::npos) << error;
}

}  // namespace
}  // namespace fulgur
