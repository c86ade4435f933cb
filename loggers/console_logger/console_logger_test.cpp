// console_logger: the rows the Trainer hands the loggers, as spdlog lines, every n-th row.
#include <gtest/gtest.h>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "fulgur/loggers/console_logger.h"
#include "testing.h"

namespace fulgur {
namespace {

TEST(ConsoleLogger, PrintsEveryNthRow) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  sink->set_pattern("%v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));

  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  TrainerOptions options;
  options.max_epochs(1);
  options.log_every_n_steps(1);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.plugins().push_back(loggers::ConsoleLoggerOptions().every_n_rows(2).spec());
  Trainer trainer(options);
  trainer.fit(model, train);
  spdlog::set_default_logger(previous);

  std::vector<std::string> lines;
  std::istringstream in(captured.str());
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("step ", 0) == 0) lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 2u) << captured.str();  // rows at steps 0, 1, 2, 3: every second one
  EXPECT_EQ(lines[0].rfind("step 0 | epoch 0 | train_loss ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("step 2 | epoch 0 | train_loss ", 0), 0u) << lines[1];

  options.plugins({PluginSpec::parse("console_logger:level=loud")});
  EXPECT_NE(testing::error_of([&] { Trainer bad(options); }).find("option 'level'"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
