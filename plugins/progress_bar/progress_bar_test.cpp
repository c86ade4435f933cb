// progress_bar output on real runs: plain lines when piped, in-place redraws on a terminal.
// (plugins/progress_bar/progress_bar_tty_test.sh runs it in a real terminal under tmux.)
#include <gtest/gtest.h>

#include "fulgur/plugins/progress_bar.h"
#include "testing.h"

namespace fulgur {
namespace {

struct ShowsLoss : testing::TinyClassifier {
  torch::Tensor training_step(const Batch& batch, int64_t) override {
    auto loss = torch::nn::functional::cross_entropy(forward(batch[0]), batch[1]);
    log("train_loss", loss, LogOptions().prog_bar(true));
    log("hidden_metric", loss);
    return loss;
  }
};

std::string output_of(plugins::ProgressBarOptions bar) {
  auto data = testing::make_blobs(16);
  auto train = testing::make_loader(data, 4);
  auto val = testing::make_loader(data, 8);
  ShowsLoss model;
  TrainerOptions options;
  options.max_epochs(2);
  options.enable_checkpointing(false);
  options.enable_model_summary(false);
  options.plugins().push_back(bar.spec());
  Trainer trainer(options);
  ::testing::internal::CaptureStdout();
  trainer.fit(model, train, val);
  trainer.test(model, val);
  return ::testing::internal::GetCapturedStdout();
}

int64_t occurrences(const std::string& text, const std::string& part) {
  int64_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

TEST(ProgressBar, PipedOutputIsPlainLinesPerEpochAndValidation) {
  plugins::ProgressBarOptions bar;
  bar.tty("false");
  bar.line_seconds(3600);  // only the lines every epoch end and validation end print
  const auto text = output_of(bar);
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(occurrences(text, "Epoch 0:"), 1) << text;  // no line at the epoch's first batch
  EXPECT_EQ(occurrences(text, "Epoch 0: 4/4 100%"), 1) << text;
  EXPECT_EQ(occurrences(text, "Epoch 1: 4/4 100%"), 1) << text;
  EXPECT_EQ(occurrences(text, "Validation: 2/2 100%"), 2) << text;
  EXPECT_EQ(occurrences(text, "Testing: 2/2 100%"), 1) << text;
  EXPECT_EQ(occurrences(text, "Sanity Checking"), 0) << text;
  EXPECT_NE(text.find("train_loss="), std::string::npos) << text;
  EXPECT_EQ(text.find("hidden_metric"), std::string::npos) << text;  // not logged with prog_bar
}

TEST(ProgressBar, TerminalOutputRedrawsInPlaceWithValidationBelow) {
  plugins::ProgressBarOptions bar;
  bar.tty("true");
  bar.refresh_seconds(0);
  const auto text = output_of(bar);
  EXPECT_NE(text.find("\rEpoch 0: 1/4 ["), std::string::npos) << text;
  EXPECT_NE(text.find("\rEpoch 0: 4/4 [\u2588\u2588\u2588"), std::string::npos) << text;
  // Validation draws on the next line, then clears it and goes back up to the training bar.
  EXPECT_NE(text.find("\n\rValidation: 1/2"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\x1b[K\x1b[A\rEpoch 0: 4/4"), std::string::npos) << text;
  EXPECT_NE(text.find("\rSanity Checking: 1/2"), std::string::npos) << text;
}

TEST(ProgressBar, OnlyRankZeroPrints) {
  ::setenv("RANK", "1", 1);
  plugins::ProgressBarOptions bar;
  bar.tty("false");
  const auto text = output_of(bar);
  ::unsetenv("RANK");
  EXPECT_TRUE(text.empty()) << text;
}

}  // namespace
}  // namespace fulgur
