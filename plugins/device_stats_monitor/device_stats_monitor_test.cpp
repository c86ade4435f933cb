// device_stats_monitor on a real run: Lightning's names, plausible values, the logged steps only.
#include <gtest/gtest.h>

#include "fulgur/plugins/device_stats_monitor.h"
#include "testing.h"

namespace fulgur {
namespace {

TEST(DeviceStatsMonitor, LogsMemoryAndCpuUseAtTheLoggedSteps) {
  auto data = testing::make_blobs(64);
  auto train = testing::make_loader(data, 8);  // 8 steps per epoch
  auto val = testing::make_loader(data, 32);
  testing::TinyClassifier model;
  auto options = testing::quiet_options(1);
  options.log_every_n_steps(4);
  options.num_sanity_val_steps(0);
  Trainer trainer(options);
  auto& logger =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.add_plugin(plugins::DeviceStatsMonitorOptions{}.spec());
  trainer.fit(model, train, val);

  std::vector<int64_t> end_steps;
  int validation_rows = 0;
  for (const auto& [step, row] : logger.rows) {
    if (row.count("DeviceStatsMonitor.on_train_batch_end/process_rss_mb")) {
      end_steps.push_back(step);
      EXPECT_GT(row.at("DeviceStatsMonitor.on_train_batch_end/process_rss_mb"), 1.0);
      const double vm = row.at("DeviceStatsMonitor.on_train_batch_end/cpu_vm_percent");
      EXPECT_GT(vm, 0.0);
      EXPECT_LE(vm, 100.0);
      const double cpu = row.at("DeviceStatsMonitor.on_train_batch_end/cpu_percent");
      EXPECT_GE(cpu, 0.0);
      EXPECT_LE(cpu, 100.0);
      EXPECT_TRUE(row.count("DeviceStatsMonitor.on_train_batch_end/cpu_swap_percent"));
    }
    if (row.count("DeviceStatsMonitor.on_validation_batch_start/process_rss_mb")) ++validation_rows;
  }
  EXPECT_EQ(end_steps, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(validation_rows, 1);  // batch 0 of 2
}

TEST(DeviceStatsMonitor, NeedsALoggerAndAKnownCpuStatsValue) {
  auto loader = testing::make_loader(testing::make_blobs(16), 8);
  testing::TinyClassifier model;
  Trainer trainer(testing::quiet_options(1));
  trainer.add_plugin(plugins::DeviceStatsMonitorOptions{}.spec());
  EXPECT_NE(testing::error_of([&] { trainer.fit(model, loader); }).find("has none; add a logger"), std::string::npos);
  plugins::DeviceStatsMonitorOptions bad;
  bad.cpu_stats("yes");
  Trainer other(testing::quiet_options(1));
  EXPECT_NE(testing::error_of([&] { other.add_plugin(bad.spec()); }).find("expects auto, true or false"),
            std::string::npos);
}

}  // namespace
}  // namespace fulgur
