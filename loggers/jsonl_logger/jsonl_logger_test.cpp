// jsonl_logger: every line parses as JSON and holds exactly the row the Trainer handed the
// loggers; NaN becomes null; hyper-parameters land in hparams.json.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fulgur/loggers/jsonl_logger.h"
#include "testing.h"

namespace fulgur {
namespace {

TEST(JsonlLogger, OneParsableObjectPerRow) {
  struct LogsNaN : testing::TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      log("odd", std::nan(""));
      return TinyClassifier::training_step(batch, batch_idx);
    }
  };
  const auto root = testing::temp_dir("jsonl");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  LogsNaN model;
  model.save_hyperparameters({{"hidden", "16"}});
  TrainerOptions options;
  options.max_epochs(2);
  options.log_every_n_steps(1);
  options.default_root_dir(root);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.plugins().push_back(loggers::JsonlLoggerOptions{}.spec());
  Trainer trainer(options);
  auto& recorder =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train);

  const auto lines = testing::read_lines(root + "/lightning_logs/version_0/metrics.jsonl");
  ASSERT_EQ(lines.size(), recorder.rows.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto row = nlohmann::json::parse(lines[i]);
    const auto& [step, expected] = recorder.rows[i];
    EXPECT_EQ(row.at("step").get<int64_t>(), step);
    EXPECT_EQ(row.size(), expected.size() + 1);
    for (const auto& [key, value] : expected) {
      if (std::isnan(value)) {
        EXPECT_TRUE(row.at(key).is_null()) << key;
      } else {
        EXPECT_DOUBLE_EQ(row.at(key).get<double>(), value) << key;
      }
    }
  }
  std::ifstream hparams(root + "/lightning_logs/version_0/hparams.json");
  EXPECT_EQ(nlohmann::json::parse(hparams).at("hidden"), "16");
}

}  // namespace
}  // namespace fulgur
