// model_summary lists a real model's layers and counts its parameters.
#include <gtest/gtest.h>

#include "fulgur/plugins/model_summary.h"
#include "testing.h"

namespace fulgur {
namespace {

struct Nested : testing::TinyClassifier {
  Nested() {
    block = register_module("block", torch::nn::Sequential(torch::nn::Linear(4, 8), torch::nn::ReLU()));
    frozen = register_module("frozen", torch::nn::Linear(8, 2));
    for (auto& parameter : frozen->parameters()) parameter.set_requires_grad(false);
  }
  torch::nn::Sequential block{nullptr};
  torch::nn::Linear frozen{nullptr};
};

std::string summary_of(int64_t max_depth) {
  const auto path = testing::temp_dir("summary") + "/summary.txt";
  auto data = testing::make_blobs(4);
  auto loader = testing::make_loader(data, 4);
  Nested model;
  TrainerOptions options;
  options.max_steps(0);
  options.enable_checkpointing(false);
  options.enable_model_summary(false);  // the explicit one below replaces the default
  options.plugins().push_back(plugins::ModelSummaryOptions().max_depth(max_depth).path(path).spec());
  Trainer trainer(options);
  ::testing::internal::CaptureStdout();
  trainer.fit(model, loader);
  const auto printed = ::testing::internal::GetCapturedStdout();
  const auto lines = testing::read_lines(path);
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  EXPECT_EQ(printed, text);
  return text;
}

TEST(ModelSummary, ListsTopLevelLayersWithCountsAndTotals) {
  const auto text = summary_of(1);
  // linear: 4*2+2 = 10, block: 4*8+8 = 40, frozen: 8*2+2 = 18 (not trainable)
  EXPECT_NE(text.find("0 | linear | Linear     | 10     | yes"), std::string::npos) << text;
  EXPECT_NE(text.find("1 | block  | Sequential | 40     | yes"), std::string::npos) << text;
  EXPECT_NE(text.find("2 | frozen | Linear     | 18     | no"), std::string::npos) << text;
  EXPECT_NE(text.find("50        Trainable params"), std::string::npos) << text;
  EXPECT_NE(text.find("18        Non-trainable params"), std::string::npos) << text;
  EXPECT_NE(text.find("68        Total params"), std::string::npos) << text;
  EXPECT_NE(text.find("0.000     Total estimated model params size (MB)"), std::string::npos) << text;
  EXPECT_EQ(text.find("block.0"), std::string::npos) << text;
}

TEST(ModelSummary, MaxDepthShowsNestedLayers) {
  const auto text = summary_of(2);
  EXPECT_NE(text.find("block.0"), std::string::npos) << text;
  EXPECT_NE(text.find("block.1"), std::string::npos) << text;
  EXPECT_EQ(summary_of(0).find("| linear"), std::string::npos);
}

}  // namespace
}  // namespace fulgur
