// The plugins' READMEs document every option their options struct declares, so that the docs the
// SDK installs stay true as options are added (fulgur/options.h lists them).
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "fulgur/loggers/console_logger.h"
#include "fulgur/loggers/csv_logger.h"
#include "fulgur/loggers/jsonl_logger.h"
#include "fulgur/loggers/tensorboard_logger.h"
#include "fulgur/plugins/amp.h"
#include "fulgur/plugins/cuda_graph.h"
#include "fulgur/plugins/device_stats_monitor.h"
#include "fulgur/plugins/early_stopping.h"
#include "fulgur/plugins/ema.h"
#include "fulgur/plugins/grad_accumulation_scheduler.h"
#include "fulgur/plugins/grad_clip.h"
#include "fulgur/plugins/hook_trace.h"
#include "fulgur/plugins/lr_monitor.h"
#include "fulgur/plugins/lr_scheduler.h"
#include "fulgur/plugins/model_checkpoint.h"
#include "fulgur/plugins/model_summary.h"
#include "fulgur/plugins/nan_guard.h"
#include "fulgur/plugins/on_exception_checkpoint.h"
#include "fulgur/plugins/profiler.h"
#include "fulgur/plugins/progress_bar.h"
#include "fulgur/plugins/spike_detection.h"
#include "fulgur/plugins/swa.h"
#include "fulgur/plugins/throughput_monitor.h"
#include "fulgur/plugins/timer.h"
#include "fulgur/strategies/ddp.h"

namespace fulgur {
namespace {

template <typename Options>
void expect_documented(const std::string& folder) {
  const std::string path = std::string(FULGUR_SOURCE_DIR) + "/" + folder + "/README.md";
  std::ifstream file(path);
  ASSERT_TRUE(file) << path;
  std::stringstream text;
  text << file.rdbuf();
  const Options defaults;
  for (const OptionField* field : defaults.fields()) {
    EXPECT_NE(text.str().find(std::string("`") + field->name() + "`"), std::string::npos)
        << path << " does not document option '" << field->name() << "' (" << field->help() << ")";
  }
}

TEST(PluginDocs, EveryDeclaredOptionIsInItsPluginsReadme) {
  expect_documented<plugins::AmpOptions>("plugins/amp");
  expect_documented<plugins::CudaGraphOptions>("plugins/cuda_graph");
  expect_documented<plugins::DeviceStatsMonitorOptions>("plugins/device_stats_monitor");
  expect_documented<plugins::EarlyStoppingOptions>("plugins/early_stopping");
  expect_documented<plugins::EmaOptions>("plugins/ema");
  expect_documented<plugins::GradAccumulationSchedulerOptions>("plugins/grad_accumulation_scheduler");
  expect_documented<plugins::GradClipOptions>("plugins/grad_clip");
  expect_documented<plugins::HookTraceOptions>("plugins/hook_trace");
  expect_documented<plugins::LRMonitorOptions>("plugins/lr_monitor");
  expect_documented<plugins::LRSchedulerOptions>("plugins/lr_scheduler");
  expect_documented<plugins::ModelCheckpointOptions>("plugins/model_checkpoint");
  expect_documented<plugins::ModelSummaryOptions>("plugins/model_summary");
  expect_documented<plugins::NanGuardOptions>("plugins/nan_guard");
  expect_documented<plugins::OnExceptionCheckpointOptions>("plugins/on_exception_checkpoint");
  expect_documented<plugins::ProfilerOptions>("plugins/profiler");
  expect_documented<plugins::ProgressBarOptions>("plugins/progress_bar");
  expect_documented<plugins::SpikeDetectionOptions>("plugins/spike_detection");
  expect_documented<plugins::SwaOptions>("plugins/swa");
  expect_documented<plugins::ThroughputMonitorOptions>("plugins/throughput_monitor");
  expect_documented<plugins::TimerOptions>("plugins/timer");
  expect_documented<loggers::ConsoleLoggerOptions>("loggers/console_logger");
  expect_documented<loggers::CSVLoggerOptions>("loggers/csv_logger");
  expect_documented<loggers::JsonlLoggerOptions>("loggers/jsonl_logger");
  expect_documented<loggers::TensorBoardLoggerOptions>("loggers/tensorboard_logger");
  expect_documented<strategies::DDPOptions>("strategies/ddp");
}

}  // namespace
}  // namespace fulgur
