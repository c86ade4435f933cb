// model_checkpoint keeps exactly the files its options ask for, on real training runs.
#include <gtest/gtest.h>

#include <filesystem>

#include "fulgur/error.h"
#include "fulgur/plugins/model_checkpoint.h"
#include "testing.h"

namespace fulgur {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Logs a scripted validation score per epoch, so the best epochs are known in advance.
struct Scripted : testing::TinyClassifier {
  std::vector<double> scores;
  torch::Tensor validation_step(const Batch&, int64_t) override {
    log("score", scores.at(static_cast<std::size_t>(trainer().current_epoch())));
    return {};
  }
};

struct RunFolder {
  testing::Blobs data = testing::make_blobs(16);
  TensorDataLoader train = testing::make_loader(data, 4);  // 4 steps per epoch
  TensorDataLoader val = testing::make_loader(data, 16);
  std::string dir;
  explicit RunFolder(const std::string& name) : dir(testing::temp_dir(name)) {}
  TrainerOptions options(int64_t epochs) const {
    TrainerOptions options;
    options.max_epochs = epochs;
    options.default_root_dir = dir;
    options.num_sanity_val_steps = 0;
    return options;
  }
};

plugins::ModelCheckpointInfo& info(Trainer& trainer) {
  auto* found = dynamic_cast<plugins::ModelCheckpointInfo*>(trainer.find_plugin("model_checkpoint"));
  if (!found) throw std::runtime_error("model_checkpoint is not attached or not inspectable");
  return *found;
}

TEST(ModelCheckpoint, ByDefaultKeepsTheLatestEpochInDefaultRootDir) {
  RunFolder setup("mc_default");
  testing::TinyClassifier model;
  Trainer trainer(setup.options(3));
  trainer.fit(model, setup.train);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"), std::vector<std::string>{"epoch=2-step=12.ckpt"});
  EXPECT_EQ(info(trainer).last_model_path(), setup.dir + "/checkpoints/epoch=2-step=12.ckpt");
}

TEST(ModelCheckpoint, EnableCheckpointingFalseSavesNothing) {
  RunFolder setup("mc_off");
  testing::TinyClassifier model;
  auto options = setup.options(1);
  options.enable_checkpointing = false;
  Trainer trainer(options);
  trainer.fit(model, setup.train);
  EXPECT_TRUE(files_in(setup.dir).empty());
  EXPECT_EQ(trainer.find_plugin("model_checkpoint"), nullptr);
}

TEST(ModelCheckpoint, KeepsTheBestKByTheMonitoredMetric) {
  RunFolder setup("mc_topk");
  Scripted model;
  model.scores = {0.5, 0.3, 0.9, 0.1, 0.4};
  plugins::ModelCheckpointOptions checkpoint;
  checkpoint.dirpath = setup.dir + "/best";
  checkpoint.monitor = "score";
  checkpoint.save_top_k = 2;
  checkpoint.filename = "{epoch}-{score:.3f}";
  auto options = setup.options(5);
  options.plugins.push_back(checkpoint.spec());
  Trainer trainer(options);
  trainer.fit(model, setup.train, setup.val);
  EXPECT_EQ(files_in(setup.dir + "/best"),
            (std::vector<std::string>{"epoch=1-score=0.300.ckpt", "epoch=3-score=0.100.ckpt"}));
  EXPECT_EQ(info(trainer).best_model_path(), setup.dir + "/best/epoch=3-score=0.100.ckpt");
  EXPECT_NEAR(info(trainer).best_model_score(), 0.1, 1e-6);
  // The best file is a checkpoint of that epoch.
  EXPECT_EQ(read_checkpoint(info(trainer).best_model_path()).at("global_step").toInt(), 16);
}

TEST(ModelCheckpoint, ModeMaxAndSaveLast) {
  RunFolder setup("mc_max");
  Scripted model;
  model.scores = {0.5, 0.3, 0.9, 0.1};
  plugins::ModelCheckpointOptions checkpoint;
  checkpoint.monitor = "score";
  checkpoint.mode = "max";
  checkpoint.save_last = true;
  auto options = setup.options(4);
  options.plugins.push_back(checkpoint.spec());
  Trainer trainer(options);
  trainer.fit(model, setup.train, setup.val);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"), (std::vector<std::string>{"epoch=2-step=12.ckpt", "last.ckpt"}));
  EXPECT_EQ(read_checkpoint(setup.dir + "/checkpoints/last.ckpt").at("global_step").toInt(), 16);
}

TEST(ModelCheckpoint, EveryNTrainStepsWithSaveTopKAll) {
  RunFolder setup("mc_steps");
  testing::TinyClassifier model;
  auto options = setup.options(2);  // 8 steps
  options.plugins.push_back(PluginSpec::parse("model_checkpoint:every_n_train_steps=3,save_top_k=-1"));
  Trainer trainer(options);
  trainer.fit(model, setup.train);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt"}));
}

TEST(ModelCheckpoint, ValidationSeveralTimesPerEpochSavesAfterEachValidation) {
  RunFolder setup("mc_val");
  testing::TinyClassifier model;
  auto options = setup.options(1);
  options.val_check_interval = 0.5;
  options.plugins.push_back(PluginSpec::parse("model_checkpoint:save_top_k=-1"));
  Trainer trainer(options);
  trainer.fit(model, setup.train, setup.val);
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt"}));
}

TEST(ModelCheckpoint, BadOptionsAndMissingMetricsAreClearErrors) {
  auto error_for = [](const std::string& spec) {
    try {
      TrainerOptions options;
      options.plugins.push_back(PluginSpec::parse(spec));
      Trainer trainer(options);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_NE(error_for("model_checkpoint:mode=median").find("'mode' expects min or max"), std::string::npos);
  EXPECT_NE(error_for("model_checkpoint:save_top_k=3").find("needs a monitor"), std::string::npos);
  EXPECT_NE(error_for("model_checkpoint:save_top_k=many").find("'save_top_k' expects an integer"), std::string::npos);

  RunFolder setup("mc_missing");
  testing::TinyClassifier model;
  auto options = setup.options(1);
  options.plugins.push_back(PluginSpec::parse("model_checkpoint:monitor=val_acc"));
  Trainer trainer(options);
  try {
    trainer.fit(model, setup.train, setup.val);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("metric 'val_acc' was not logged; logged metrics:"), std::string::npos)
        << error.what();
  }
}

TEST(ModelCheckpoint, BestFilesSurviveAResume) {
  RunFolder setup("mc_resume");
  Scripted model;
  model.scores = {0.5, 0.3, 0.9, 0.8};
  plugins::ModelCheckpointOptions checkpoint;
  checkpoint.monitor = "score";
  checkpoint.save_top_k = 1;
  checkpoint.save_last = true;
  auto options = setup.options(2);
  options.plugins.push_back(checkpoint.spec());
  {
    Trainer trainer(options);
    trainer.fit(model, setup.train, setup.val);
  }
  options.max_epochs = 4;
  Trainer resumed(options);
  resumed.fit(model, setup.train, setup.val, setup.dir + "/checkpoints/last.ckpt");
  // Epochs 2 and 3 scored worse than epoch 1, which the resumed run knew about.
  EXPECT_EQ(info(resumed).best_model_path(), setup.dir + "/checkpoints/epoch=1-step=8.ckpt");
  EXPECT_EQ(files_in(setup.dir + "/checkpoints"), (std::vector<std::string>{"epoch=1-step=8.ckpt", "last.ckpt"}));
}

}  // namespace
}  // namespace fulgur
