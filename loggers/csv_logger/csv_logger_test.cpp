// csv_logger on real runs: Lightning's folder layout and columns, the values the Trainer
// handed the loggers, hparams.yaml, the next free version, resumed runs appending to theirs,
// and an unwritable folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fulgur/loggers/csv_logger.h"
#include "testing.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

TrainerOptions with_csv(const std::string& root, int64_t max_epochs) {
  TrainerOptions options;
  options.max_epochs(max_epochs);
  options.log_every_n_steps(2);
  options.default_root_dir(root);
  options.enable_checkpointing(false);
  options.enable_progress_bar(false);
  options.enable_model_summary(false);
  options.plugins().push_back(loggers::CSVLoggerOptions{}.spec());
  return options;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

TEST(CSVLogger, WritesLightningsLayoutWithTheLoggedValues) {
  const auto root = testing::temp_dir("csv_layout");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 8);
  testing::TinyClassifier model;
  model.save_hyperparameters({{"lr", 0.1}, {"note", "a: b"}});
  Trainer trainer(with_csv(root, 2));
  auto& recorder =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train, val);

  const std::string folder = root + "/lightning_logs/version_0";
  const auto lines = testing::read_lines(folder + "/metrics.csv");
  ASSERT_EQ(lines.size(), recorder.rows.size() + 1);
  const auto header = split(lines[0]);
  ASSERT_GE(header.size(), 4u);
  EXPECT_TRUE(std::is_sorted(header.begin(), header.end()));  // Lightning's writer sorts its columns
  EXPECT_NE(std::find(header.begin(), header.end(), "epoch"), header.end());
  EXPECT_NE(std::find(header.begin(), header.end(), "step"), header.end());
  EXPECT_NE(std::find(header.begin(), header.end(), "train_loss"), header.end());
  EXPECT_NE(std::find(header.begin(), header.end(), "val_loss"), header.end());
  for (std::size_t r = 0; r < recorder.rows.size(); ++r) {
    const auto cells = split(lines[r + 1]);
    ASSERT_EQ(cells.size(), header.size()) << lines[r + 1];
    EXPECT_EQ(std::stoll(cells[1]), recorder.rows[r].first);
    for (std::size_t c = 2; c < header.size(); ++c) {
      const auto& row = recorder.rows[r].second;
      if (row.count(header[c])) {
        EXPECT_DOUBLE_EQ(std::stod(cells[c]), row.at(header[c])) << header[c];
      } else {
        EXPECT_EQ(cells[c], "") << header[c];
      }
    }
  }
  const auto yaml = testing::read_lines(folder + "/hparams.yaml");
  EXPECT_EQ(yaml, (std::vector<std::string>{"lr: 0.1", "note: \"a: b\""}));

  // The next run gets the next version.
  testing::TinyClassifier again;
  Trainer second(with_csv(root, 1));
  second.fit(again, train);
  EXPECT_TRUE(fs::exists(root + "/lightning_logs/version_1/metrics.csv"));
}

// Logs "late" only from the second epoch on: a column that joins after rows were appended.
struct LateMetric : testing::TinyClassifier {
  torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
    auto loss = testing::TinyClassifier::training_step(batch, batch_idx);
    if (trainer().current_epoch() >= 1) log("late", static_cast<double>(batch_idx));
    return loss;
  }
};

TEST(CSVLogger, RowsAreAppendedAndANewColumnRewritesTheFileWithEveryRow) {
  const auto root = testing::temp_dir("csv_late_column");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  LateMetric model;
  auto options = with_csv(root, 3);
  options.log_every_n_steps(1);
  options.plugins().back() = loggers::CSVLoggerOptions().flush_logs_every_n_steps(3).spec();
  Trainer trainer(options);
  auto& recorder =
      static_cast<testing::RecordingLogger&>(trainer.add_plugin(std::make_unique<testing::RecordingLogger>()));
  trainer.fit(model, train);

  const auto lines = testing::read_lines(root + "/lightning_logs/version_0/metrics.csv");
  ASSERT_EQ(lines.size(), recorder.rows.size() + 1);  // 12 rows: none lost or repeated
  EXPECT_EQ(lines[0], "epoch,late,step,train_loss");  // sorted, as Lightning's writer keeps them
  for (std::size_t r = 0; r < recorder.rows.size(); ++r) {
    const auto cells = split(lines[r + 1]);
    ASSERT_EQ(cells.size(), 4u) << lines[r + 1];
    EXPECT_EQ(std::stoll(cells[2]), recorder.rows[r].first);
    EXPECT_DOUBLE_EQ(std::stod(cells[3]), recorder.rows[r].second.at("train_loss"));
    if (r < 4) EXPECT_EQ(cells[1], "");  // the first epoch's rows, written before the column existed
    if (r >= 4) EXPECT_DOUBLE_EQ(std::stod(cells[1]), static_cast<double>(r % 4));
  }
}

TEST(CSVLogger, ResumedRunAppendsToItsVersion) {
  const auto root = testing::temp_dir("csv_resume");
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  const std::string ckpt = root + "/half.ckpt";
  {
    testing::TinyClassifier model;
    Trainer trainer(with_csv(root, 1));
    trainer.fit(model, train);
    trainer.save_checkpoint(ckpt);
  }
  const auto before = testing::read_lines(root + "/lightning_logs/version_0/metrics.csv");
  {
    testing::TinyClassifier model;
    Trainer trainer(with_csv(root, 2));
    trainer.fit(model, train, nullptr, ckpt);
  }
  EXPECT_FALSE(fs::exists(root + "/lightning_logs/version_1"));
  const auto after = testing::read_lines(root + "/lightning_logs/version_0/metrics.csv");
  ASSERT_GT(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]);
  EXPECT_EQ(split(after.back())[0], "1");  // the resumed epoch
}

TEST(CSVLogger, UnwritableFolderIsAClearError) {
  const auto root = testing::temp_dir("csv_unwritable");
  { std::ofstream(root + "/a_file") << "x"; }
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  testing::TinyClassifier model;
  auto options = with_csv(root + "/a_file", 1);
  Trainer trainer(options);
  const auto message = testing::error_of([&] { trainer.fit(model, train); });
  // The folder that cannot be made is named with the system's reason.
  EXPECT_NE(message.find("logger folder " + root + "/a_file/lightning_logs cannot be created: Not a directory"),
            std::string::npos)
      << message;
}

TEST(CSVLogger, NaNIsWrittenAsNan) {
  struct LogsNaN : testing::TinyClassifier {
    torch::Tensor training_step(const Batch& batch, int64_t batch_idx) override {
      log("odd", std::nan(""));
      return TinyClassifier::training_step(batch, batch_idx);
    }
  };
  const auto root = testing::temp_dir("csv_nan");
  auto data = testing::make_blobs(8);
  auto train = testing::make_loader(data, 4);
  LogsNaN model;
  Trainer trainer(with_csv(root, 1));
  trainer.fit(model, train);
  const auto lines = testing::read_lines(root + "/lightning_logs/version_0/metrics.csv");
  ASSERT_GE(lines.size(), 2u);
  const auto header = split(lines[0]);
  const auto column = std::find(header.begin(), header.end(), "odd") - header.begin();
  EXPECT_EQ(split(lines[1])[column], "nan");
}

}  // namespace
}  // namespace fulgur
